namespace LightVM.Toolstack.Pool;

/// <summary>A VM handed out by the pool: itself in every way, except that its info says where it came from.</summary>
internal sealed class PooledVm(IVm inner) : IVm
{
    public string Id => inner.Id;

    public VmShape Shape => inner.Shape;

    public VmState State => inner.State;

    public VmRecord Record => inner.Record;

    public Task<VmExit> Exited => inner.Exited;

    public Task<Stream> OpenAgentStreamAsync(CancellationToken cancellationToken) => inner.OpenAgentStreamAsync(cancellationToken);

    public Task<string> AttachShareAsync(string hostPath, string name, bool readOnly, CancellationToken cancellationToken) =>
        inner.AttachShareAsync(hostPath, name, readOnly, cancellationToken);

    public Task DetachShareAsync(string name, CancellationToken cancellationToken) => inner.DetachShareAsync(name, cancellationToken);

    public Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken) => inner.StopAsync(timeout, cancellationToken);

    public Task KillAsync(CancellationToken cancellationToken) => inner.KillAsync(cancellationToken);

    public VmInfo Describe() => inner.Describe() with { FromPool = true };

    public string ConsoleTail(int maxChars = 600) => inner.ConsoleTail(maxChars);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
