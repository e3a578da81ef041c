using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace LightVM.Agent.Channels;

/// <summary>Listens on a unix socket; every accepted connection is a host (tests, or a host-side proxy).</summary>
internal sealed class UnixSocketChannel : IHostChannel
{
    private readonly string _path;
    private readonly Socket _listener;

    public UnixSocketChannel(string path)
    {
        _path = path;
        if (File.Exists(path) && File.GetAttributes(path) is not FileAttributes.Directory)
        {
            File.Delete(path);
        }

        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(4);
    }

    public async IAsyncEnumerable<HostConnection> AcceptAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            var socket = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            var stream = new NetworkStream(socket, ownsSocket: true);
            var pipe = new DuplexPipe(
                PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true)),
                PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)));
            yield return new HostConnection(pipe, () => stream.DisposeAsync());
        }
    }

    public ValueTask DisposeAsync()
    {
        _listener.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Already gone.
        }

        return ValueTask.CompletedTask;
    }
}
