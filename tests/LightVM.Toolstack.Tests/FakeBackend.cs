namespace LightVM.Toolstack.Tests;

/// <summary>An in-memory VM source for the pool's pure logic (counting, backoff, sweeping, draining).</summary>
internal sealed class FakeBackend : IVmBackend
{
    private int _next;

    public volatile bool Fail;

    public List<FakeVm> Prepared { get; } = [];

    public int WarmUps => _warmUps;

    private int _warmUps;

    public Task WarmUpAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _warmUps);
        return Fail ? throw new ToolstackException(ToolstackErrorKind.Unavailable, "fake warm-up failure") : Task.CompletedTask;
    }

    public Task<IVm> PrepareAsync(VmShape shape, CancellationToken cancellationToken)
    {
        if (Fail)
        {
            throw new ToolstackException(ToolstackErrorKind.Unavailable, "fake boot failure");
        }

        var vm = new FakeVm("fake" + Interlocked.Increment(ref _next), shape);
        lock (Prepared)
        {
            Prepared.Add(vm);
        }

        return Task.FromResult<IVm>(vm);
    }

    public int BackgroundPrepares => _backgroundPrepares;

    private int _backgroundPrepares;

    public Task<IVm> PrepareInBackgroundAsync(VmShape shape, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _backgroundPrepares);
        return PrepareAsync(shape, cancellationToken);
    }

    public Task<IVm> RecoverAsync(VmRecord record, CancellationToken cancellationToken) =>
        throw new ToolstackException(ToolstackErrorKind.NotFound, "fake");

    public Task<int> StopOrphansAsync(IReadOnlyCollection<string> keepRunDirectories, CancellationToken cancellationToken) =>
        Task.FromResult(0);
}

internal sealed class FakeVm(string id, VmShape shape) : IVm
{
    private readonly TaskCompletionSource<VmExit> _exited = new();

    public string Id => id;

    public VmShape Shape => shape;

    public VmState State => _exited.Task.IsCompleted ? VmState.Exited : VmState.Running;

    public VmRecord Record => new(id, "fake", shape, "/nonexistent", 1, "none", DateTimeOffset.UtcNow, TimeSpan.Zero);

    public Task<VmExit> Exited => _exited.Task;

    public bool Stopped { get; private set; }

    public void Die(string reason) => _exited.TrySetResult(new VmExit(reason, DateTimeOffset.UtcNow));

    public Task<Stream> OpenAgentStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(new MemoryStream());

    public Task<string> AttachShareAsync(string hostPath, string name, bool readOnly, CancellationToken cancellationToken) => Task.FromResult(name);

    public Task DetachShareAsync(string name, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Stopped = true;
        Die("stopped by request");
        return Task.CompletedTask;
    }

    public Task KillAsync(CancellationToken cancellationToken) => StopAsync(TimeSpan.Zero, cancellationToken);

    public string ConsoleTail(int maxChars = 600) => "(fake console)";

    public VmInfo Describe() => new(id, "fake", shape, 1, "none", DateTimeOffset.UtcNow, TimeSpan.Zero, "/nonexistent", false);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
