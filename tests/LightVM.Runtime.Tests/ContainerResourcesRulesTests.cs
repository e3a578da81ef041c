using LightVM.Runtime;
using LightVM.Runtime.Pods;
using LightVM.Runtime.Store;

namespace LightVM.Runtime.Tests;

/// <summary>How CRI resource values become the guest's cgroup v2 files, and which ones are refused.</summary>
public sealed class ContainerResourcesRulesTests
{
    [Fact]
    public void ToAgentResources_NothingSet_Null()
    {
        Assert.Null(PodManager.ToAgentResources(null));
        Assert.Null(PodManager.ToAgentResources(ContainerResources.None));
    }

    [Fact]
    public void ToAgentResources_QuotaPeriodMemory_CarriedAsIs()
    {
        var agent = PodManager.ToAgentResources(Resources(period: 100_000, quota: 50_000, memory: 64 << 20))!;
        Assert.Equal((50_000L, 100_000UL, (ulong)(64 << 20)), (agent.CpuQuotaUs, agent.CpuPeriodUs, agent.MemoryLimitBytes));
        Assert.False(agent.HasCpuWeight);
        Assert.Empty(agent.Unified);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(262_144, 10_000)]
    [InlineData(1, 1)]
    [InlineData(1_000_000, 10_000)]
    public void ToAgentResources_Shares_ConvertedToWeightInRange(long shares, ulong weight) =>
        Assert.Equal(weight, PodManager.ToAgentResources(Resources(shares: shares))!.CpuWeight);

    [Fact]
    public void ToAgentResources_SwapLimit_IsSwapAloneOnV2()
    {
        Assert.Equal("0", PodManager.ToAgentResources(Resources(memory: 100, swap: 100))!.Unified["memory.swap.max"]);
        Assert.Equal("50", PodManager.ToAgentResources(Resources(memory: 100, swap: 150))!.Unified["memory.swap.max"]);
        Assert.Equal("max", PodManager.ToAgentResources(Resources(memory: 100, swap: -1))!.Unified["memory.swap.max"]);
    }

    [Fact]
    public void ToAgentResources_UnifiedSwap_WinsOverComputed()
    {
        var unified = new Dictionary<string, string> { ["memory.swap.max"] = "7", ["memory.high"] = "1G" };
        var agent = PodManager.ToAgentResources(Resources(memory: 100, swap: 150) with { Unified = unified })!;
        Assert.Equal("7", agent.Unified["memory.swap.max"]);
        Assert.Equal("1G", agent.Unified["memory.high"]);
    }

    [Fact]
    public void MergeResources_ZeroFieldsKeepCurrentSetFieldsReplace()
    {
        var current = Resources(period: 100_000, quota: 50_000, memory: 64 << 20) with { Unified = new Dictionary<string, string> { ["memory.high"] = "1G", ["pids.max"] = "10" } };
        var update = Resources(memory: 128 << 20) with { Unified = new Dictionary<string, string> { ["pids.max"] = "20" } };
        var merged = PodManager.MergeResources(current, update);
        Assert.Equal((100_000L, 50_000L, 128L << 20), (merged.CpuPeriod, merged.CpuQuota, merged.MemoryLimitBytes));
        Assert.Equal(new Dictionary<string, string> { ["memory.high"] = "1G", ["pids.max"] = "20" }, merged.Unified);
    }

    [Fact]
    public void MergeResources_NoCurrent_IsTheUpdate()
    {
        var update = Resources(quota: 20_000);
        Assert.Equal(20_000, PodManager.MergeResources(null, update).CpuQuota);
    }

    [Theory]
    [InlineData(999, 0, 0, 0, 0, "cpu_period")]
    [InlineData(1_000_001, 0, 0, 0, 0, "cpu_period")]
    [InlineData(0, 999, 0, 0, 0, "cpu_quota")]
    [InlineData(0, -2, 0, 0, 0, "cpu_quota")]
    [InlineData(0, 0, -1, 0, 0, "cpu_shares")]
    [InlineData(0, 0, 0, -1, 0, "memory_limit_in_bytes")]
    [InlineData(0, 0, 0, 200, 100, "memory_swap_limit_in_bytes")]
    public void ValidateResources_OutOfRange_InvalidArgumentNamingField(long period, long quota, long shares, long memory, long swap, string field)
    {
        var e = Assert.Throws<RuntimeException>(() => PodManager.ValidateResources(Resources(period, quota, shares, memory, swap)));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cgroup.procs")]
    [InlineData("../memory.max")]
    [InlineData("memory/max")]
    [InlineData("nodot")]
    public void ValidateResources_BadUnifiedKey_InvalidArgument(string key)
    {
        var e = Assert.Throws<RuntimeException>(() => PodManager.ValidateResources(
            ContainerResources.None with { Unified = new Dictionary<string, string> { [key] = "1" } }));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateResources_KubeletDefaults_Accepted() =>
        PodManager.ValidateResources(Resources(period: 100_000, quota: -1, shares: 2, memory: 0, swap: 0));

    private static ContainerResources Resources(long period = 0, long quota = 0, long shares = 0, long memory = 0, long swap = 0) =>
        new(period, quota, shares, memory, swap, new Dictionary<string, string>());
}
