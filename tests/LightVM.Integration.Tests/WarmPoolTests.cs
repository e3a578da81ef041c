using System.Text.Json;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>With the pool full, RunPodSandbox takes a prepared VM instead of booting one.</summary>
[Trait("Category", "Qemu")]
public sealed class WarmPoolTests
{
    [Fact]
    public async Task RunPodSandbox_PoolFull_TakesPooledVmAndPoolRefills()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 1);
        using var cri = daemon.Connect();
        await WaitPoolAsync(cri, p => p.Ready == 1);

        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("warm", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var status = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
        using (var info = JsonDocument.Parse(status.Info["info"]))
        {
            Assert.Equal("pooled", info.RootElement.GetProperty("source").GetString());
            Assert.True(info.RootElement.GetProperty("vm").GetProperty("vmmPid").GetInt32() > 0);

            // A pooled VM ran the throwaway warm-up container before it was handed out.
            var console = Path.Combine(info.RootElement.GetProperty("vm").GetProperty("runDirectory").GetString()!, "console.log");
            Assert.Contains("Warm-up container ran", File.ReadAllText(console), StringComparison.Ordinal);
        }

        var afterClaim = await WaitPoolAsync(cri, p => p.Ready == 1);
        Assert.Equal((1L, 0L), (afterClaim.Hits, afterClaim.Misses));
        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    [Fact]
    public async Task RunPodSandbox_PoolOn_RefillWaitsUntilPodStartsAreQuiet()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(
            dir.Path, 1, "--pool.refill_quiet_ms=6000", "--pool.refill_max_defer_ms=120000", "--telemetry.log_level=debug");
        using var cri = daemon.Connect();
        await WaitPoolAsync(cri, p => p.Ready == 1);

        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("quiet", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;

        // The claim emptied the pool; its refill waits 6 s after the start ended (a boot here takes ~2 s).
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(0, (await WaitPoolAsync(cri, _ => true)).Ready);
        await WaitPoolAsync(cri, p => p.Ready == 1);
        Assert.Matches(@"refill of 1cpu/128MiB waited \d+ ms for pod and container starts", daemon.Output);
        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    [Fact]
    public async Task RunPodSandbox_PodLimitsAndOverhead_ColdVmSizedForThem()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var cri = daemon.Connect();
        var config = PodTestSupport.PodConfig("sized", "");
        config.Linux = new V1.LinuxPodSandboxConfig
        {
            Resources = new V1.LinuxContainerResources { CpuPeriod = 100_000, CpuQuota = 150_000, MemoryLimitInBytes = 200L << 20 },
            Overhead = new V1.LinuxContainerResources { CpuPeriod = 100_000, CpuQuota = 25_000, MemoryLimitInBytes = 40L << 20 },
        };

        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = config }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var status = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
        using (var info = JsonDocument.Parse(status.Info["info"]))
        {
            // 1.5 + 0.25 CPUs -> 2 vCPUs; 200 + 40 MiB + 64 MiB VM overhead, rounded up to 32 MiB -> 320 MiB.
            var vm = info.RootElement.GetProperty("vm");
            Assert.Equal((2, 320), (vm.GetProperty("vcpus").GetInt32(), vm.GetProperty("memoryMib").GetInt32()));
            Assert.Equal("cold", info.RootElement.GetProperty("source").GetString());
        }

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    private static async Task<PoolShape> WaitPoolAsync(CriClient cri, Func<PoolShape, bool> done)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (true)
        {
            var status = await cri.Runtime.StatusAsync(new V1.StatusRequest { Verbose = true }, deadline: PodTestSupport.Deadline());
            using var pool = JsonDocument.Parse(status.Info["pool"]);
            var shape = pool.RootElement.GetProperty("shapes")[0];
            var current = new PoolShape(shape.GetProperty("ready").GetInt32(), shape.GetProperty("hits").GetInt64(), shape.GetProperty("misses").GetInt64());
            if (done(current))
            {
                return current;
            }

            Assert.True(DateTime.UtcNow < until, $"pool not in the expected state after 120 s: {shape}");
            await Task.Delay(200);
        }
    }

    private sealed record PoolShape(int Ready, long Hits, long Misses);
}
