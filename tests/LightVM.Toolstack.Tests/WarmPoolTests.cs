using LightVM.Toolstack.Pool;

namespace LightVM.Toolstack.Tests;

/// <summary>The pool's bookkeeping against an in-memory backend; real boots are in <see cref="WarmPoolQemuTests"/>.</summary>
public sealed class WarmPoolTests
{
    private static readonly VmShape Small = new(1, 128);
    private readonly FakeBackend _backend = new();
    private readonly TestLoggerFactory _logs = new();

    [Fact]
    public async Task PrepareAsync_SizeZero_PassesThroughAndBootsNothingAhead()
    {
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 0 }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);

        var vm = await pool.PrepareAsync(Small, CancellationToken.None);
        await Task.Delay(200);

        Assert.False(vm.Describe().FromPool);
        Assert.Single(_backend.Prepared);
        Assert.Empty(pool.GetCounters());
        Assert.Equal(1, _backend.WarmUps); // the one-time backend work ran at start even with the pool off
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task PrepareAsync_Warm_HitThenRefilledToSize()
    {
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 2 }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);
        await WaitForAsync(pool, c => c.Ready == 2);

        var vm = await pool.PrepareAsync(Small, CancellationToken.None);

        Assert.True(vm.Describe().FromPool);
        var counters = Assert.Single(pool.GetCounters());
        Assert.Equal((1L, 0L), (counters.Hits, counters.Misses));
        await WaitForAsync(pool, c => c.Ready == 2);
        Assert.Equal(3, _backend.Prepared.Count);
        Assert.Equal(3, _backend.BackgroundPrepares); // refills are background boots, never on a request's priority
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task PrepareAsync_OtherShape_ColdMissCounted()
    {
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 1 }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);

        var vm = await pool.PrepareAsync(new VmShape(2, 256), CancellationToken.None);

        Assert.False(vm.Describe().FromPool);
        var other = pool.GetCounters().Single(c => c.Shape == new VmShape(2, 256));
        Assert.Equal((0, 0L, 1L), (other.Target, other.Hits, other.Misses));
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Refill_BackendFails_CountedWithErrorAndClaimFallsBackToCold()
    {
        _backend.Fail = true;
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 1 }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);
        await WaitForAsync(pool, c => c.RefillFailures >= 1);
        _backend.Fail = false;

        var vm = await pool.PrepareAsync(Small, CancellationToken.None);

        Assert.False(vm.Describe().FromPool);
        var counters = Assert.Single(pool.GetCounters());
        Assert.Equal(1, counters.Misses);
        Assert.Contains("fake boot failure", counters.LastRefillError, StringComparison.Ordinal);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5202);
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Sweep_WaitingVmDies_DroppedAndReplaced()
    {
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 1 }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);
        await WaitForAsync(pool, c => c.Ready == 1);
        var first = _backend.Prepared[0];

        first.Die("killed");
        await WaitForAsync(pool, _ => _backend.Prepared.Count == 2);
        await WaitForAsync(pool, c => c.Ready == 1);
        var vm = await pool.PrepareAsync(Small, CancellationToken.None);

        Assert.NotEqual(first.Id, vm.Id);
        Assert.True(first.Stopped);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5205);
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task StopAsync_Warm_StopsEveryWaitingVm()
    {
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 2, Shapes = ["1x128", "2x256"] }, Small, _logs);
        await pool.StartAsync(CancellationToken.None);
        await WaitForAsync(pool, _ => pool.GetCounters().Sum(c => c.Ready) == 4);
        var claimed = await pool.PrepareAsync(new VmShape(2, 256), CancellationToken.None);

        await pool.StopAsync(CancellationToken.None);

        Assert.All(_backend.Prepared.Where(v => v.Id != claimed.Id), v => Assert.True(v.Stopped, v.Id));
        Assert.False(((FakeVm)_backend.Prepared.Single(v => v.Id == claimed.Id)).Stopped);
        Assert.All(pool.GetCounters(), c => Assert.Equal(0, c.Ready));
    }

    [Fact]
    public async Task Refill_ForegroundWorkRunning_WaitsForItToEndThenBoots()
    {
        var foreground = new ForegroundWork();
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 1, RefillQuietMs = 100, RefillMaxDeferMs = 60_000 }, Small, _logs, foreground);
        var start = foreground.Begin();
        await pool.StartAsync(CancellationToken.None);

        // While a pod start runs, no refill boots (well past the quiet window; the cap is a minute away).
        await Task.Delay(500);
        Assert.Empty(_backend.Prepared);
        Assert.Equal(1, Assert.Single(pool.GetCounters()).Refilling);

        start.Dispose();
        await WaitForAsync(pool, c => c.Ready == 1);
        Assert.Single(_backend.Prepared);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5209);
        await pool.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Refill_ForegroundNeverQuiet_BootsAfterTheMaximumDeferral()
    {
        var foreground = new ForegroundWork();
        using var pool = new WarmPool(_backend, new PoolOptions { Size = 1, RefillQuietMs = 60_000, RefillMaxDeferMs = 200 }, Small, _logs, foreground);
        using var busy = foreground.Begin();
        await pool.StartAsync(CancellationToken.None);

        await WaitForAsync(pool, c => c.Ready == 1);

        Assert.Equal(1, foreground.Active);
        await pool.StopAsync(CancellationToken.None);
    }

    internal static async Task WaitForAsync(WarmPool pool, Func<PoolShapeCounters, bool> condition, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition(pool.GetCounters()[0]))
        {
            Assert.True(DateTime.UtcNow < deadline, "pool never reached the condition: " + string.Join("; ", pool.GetCounters()));
            await Task.Delay(20);
        }
    }
}
