using LightVM.Toolstack.Pool;

namespace LightVM.Toolstack.Tests;

public sealed class ForegroundWorkTests
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(1);

    [Fact]
    public async Task WaitForQuiet_NothingEverRan_ReturnsAtOnce()
    {
        var work = new ForegroundWork();

        var waited = await work.WaitForQuietAsync(Long, Long, CancellationToken.None);

        Assert.True(waited < TimeSpan.FromSeconds(30), $"waited {waited}");
    }

    [Fact]
    public async Task WaitForQuiet_WorkInProgress_WaitsUntilEveryScopeEnds()
    {
        var work = new ForegroundWork();
        var first = work.Begin();
        var second = work.Begin();

        var wait = work.WaitForQuietAsync(TimeSpan.Zero, Long, CancellationToken.None);
        await Task.Delay(200);
        Assert.False(wait.IsCompleted);
        first.Dispose();
        first.Dispose(); // a scope ends once
        await Task.Delay(200);
        Assert.False(wait.IsCompleted);
        Assert.Equal(1, work.Active);
        second.Dispose();

        await wait.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, work.Active);
    }

    [Fact]
    public async Task WaitForQuiet_JustEnded_WaitsOutTheQuietWindow()
    {
        var work = new ForegroundWork();
        work.Begin().Dispose();

        var wait = work.WaitForQuietAsync(Long, Long, CancellationToken.None);
        await Task.Delay(200);

        Assert.False(wait.IsCompleted);
    }

    [Fact]
    public async Task WaitForQuiet_NeverQuiet_ReturnsAfterTheMaximumWait()
    {
        var work = new ForegroundWork();
        using var busy = work.Begin();

        var waited = await work.WaitForQuietAsync(Long, TimeSpan.FromMilliseconds(100), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(waited >= TimeSpan.FromMilliseconds(100), $"waited {waited}");
    }

    [Fact]
    public async Task WaitForQuiet_Cancelled_Throws()
    {
        var work = new ForegroundWork();
        using var busy = work.Begin();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => work.WaitForQuietAsync(Long, Long, cancel.Token));
    }
}
