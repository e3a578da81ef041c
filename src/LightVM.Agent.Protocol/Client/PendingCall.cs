using System.Threading.Channels;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol.Client;

/// <summary>A call waiting for frames from the agent; completed by the connection's read loop.</summary>
internal abstract class PendingCall
{
    public abstract void OnResponse(Response response);

    public abstract void OnItem(StreamItem item);

    public abstract void OnEnd();

    public abstract void OnError(Exception error);
}

internal sealed class UnaryCall : PendingCall
{
    private readonly TaskCompletionSource<Response> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<Response> Task => _result.Task;

    public override void OnResponse(Response response) => _result.TrySetResult(response);

    public override void OnItem(StreamItem item) =>
        _result.TrySetException(new AgentException(AgentErrorKind.Internal, "the agent sent stream data on a unary call"));

    public override void OnEnd() =>
        _result.TrySetException(new AgentException(AgentErrorKind.Internal, "the agent ended a unary call without a response"));

    public override void OnError(Exception error) => _result.TrySetException(error);
}

internal sealed class StreamingCall : PendingCall
{
    // Unbounded is safe: the agent sends no more than the credit this host granted.
    private readonly Channel<StreamItem> _items = Channel.CreateUnbounded<StreamItem>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public ChannelReader<StreamItem> Items => _items.Reader;

    public override void OnResponse(Response response) =>
        _items.Writer.TryComplete(new AgentException(AgentErrorKind.Internal, "the agent sent a unary response on a stream"));

    public override void OnItem(StreamItem item) => _items.Writer.TryWrite(item);

    public override void OnEnd() => _items.Writer.TryComplete();

    public override void OnError(Exception error) => _items.Writer.TryComplete(error);
}
