using System.IO.Pipelines;

namespace LightVM.Agent.Channels;

/// <summary>One connection from the host: a byte stream in both directions, closed by disposing.</summary>
internal sealed class HostConnection : IAsyncDisposable
{
    private readonly Func<ValueTask> _close;

    public HostConnection(IDuplexPipe pipe, Func<ValueTask> close)
    {
        Pipe = pipe;
        _close = close;
    }

    public IDuplexPipe Pipe { get; }

    public ValueTask DisposeAsync() => _close();
}

/// <summary>Where host connections come from: a virtio-serial port in the guest, a unix socket in tests.</summary>
internal interface IHostChannel : IAsyncDisposable
{
    /// <summary>Yields each new host connection; the previous one is over or superseded.</summary>
    IAsyncEnumerable<HostConnection> AcceptAsync(CancellationToken cancellationToken);

    /// <summary>Opens the channel from "virtio:NAME" or "unix:PATH".</summary>
    static IHostChannel Open(string spec, Microsoft.Extensions.Logging.ILogger logger, int maxFrameBytes) =>
        spec.StartsWith("unix:", StringComparison.Ordinal)
            ? new UnixSocketChannel(spec["unix:".Length..])
            : new VirtioSerialChannel(spec["virtio:".Length..], logger, maxFrameBytes);
}

internal sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
