using System.Net.Sockets;
using Grpc.Net.Client;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Testing;

/// <summary>The generated CRI clients over a real unix socket, as kubelet and crictl connect.</summary>
public sealed class CriClient : IDisposable
{
    private readonly GrpcChannel _channel;

    public CriClient(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });
        Runtime = new V1.RuntimeService.RuntimeServiceClient(_channel);
        Images = new V1.ImageService.ImageServiceClient(_channel);
    }

    public V1.RuntimeService.RuntimeServiceClient Runtime { get; }

    public V1.ImageService.ImageServiceClient Images { get; }

    public void Dispose() => _channel.Dispose();
}
