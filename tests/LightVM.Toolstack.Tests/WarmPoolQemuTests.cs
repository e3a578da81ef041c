using LightVM.Testing;
using LightVM.Toolstack.Pool;
using LightVM.Toolstack.Qemu;

namespace LightVM.Toolstack.Tests;

/// <summary>The pool over the real QEMU backend.</summary>
[Collection("Qemu")]
[Trait("Category", "Qemu")]
public sealed class WarmPoolQemuTests(TestGuest guest) : IDisposable
{
    private readonly TempDirectory _runRoot = new("lvpool");
    private readonly TestLoggerFactory _logs = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    public void Dispose()
    {
        _timeout.Dispose();
        RunRootCleanup.Run(_runRoot.Path);
        _runRoot.Dispose();
    }

    [Fact]
    public async Task PrepareAsync_PoolWarm_HandsOutBootedVmRefillsAndDrains()
    {
        var ct = _timeout.Token;
        var shape = new VmShape(1, 128);
        var backend = new QemuBackend(guest.Options(), _runRoot.Path, AgentProbes.FirstLine, _logs);
        using var pool = new WarmPool(backend, new PoolOptions { Size = 1 }, shape, _logs);
        await pool.StartAsync(ct);
        await WarmPoolTests.WaitForAsync(pool, c => c.Ready == 1, seconds: 60);

        var vm = await pool.PrepareAsync(shape, ct);

        var info = vm.Describe();
        Assert.True(info.FromPool);
        var counters = Assert.Single(pool.GetCounters());
        Assert.Equal((1L, 0L), (counters.Hits, counters.Misses));
        await using (var agent = await vm.OpenAgentStreamAsync(ct))
        {
            Assert.Equal("claimed", await AgentLines.AskAsync(agent, "claimed", ct));
        }

        await WarmPoolTests.WaitForAsync(pool, c => c.Ready == 1, seconds: 60);
        var vmsRoot = _runRoot.Combine("vms");
        Assert.Equal(2, Directory.GetDirectories(vmsRoot).Length);

        await pool.StopAsync(ct);

        Assert.Equal([info.RunDirectory], Directory.GetDirectories(vmsRoot));
        await vm.StopAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Empty(Directory.GetDirectories(vmsRoot));
    }
}
