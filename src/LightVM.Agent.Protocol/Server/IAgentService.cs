using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol.Server;

/// <summary>The guest's implementation of the calls. Throw <see cref="AgentException"/> to report an error.</summary>
public interface IAgentService
{
    /// <summary>Handles a unary call (every call for which <see cref="AgentProtocol.IsStreaming"/> is false).</summary>
    ValueTask<Response> CallAsync(Request request, CancellationToken cancellationToken);

    /// <summary>Handles a streaming call; returning ends the stream.</summary>
    ValueTask StreamAsync(Request request, IStreamSink sink, CancellationToken cancellationToken);
}

/// <summary>Where a streaming call writes its items, within the credit the host granted.</summary>
public interface IStreamSink
{
    /// <summary>The largest frame payload the host accepts; size items below it.</summary>
    int MaxPayload { get; }

    /// <summary>Waits until the host grants credit; returns the bytes that may be sent.</summary>
    ValueTask<int> WaitForCreditAsync(CancellationToken cancellationToken);

    /// <summary>Sends one item and uses up <paramref name="chargedBytes"/> of credit.</summary>
    ValueTask SendAsync(StreamItem item, int chargedBytes, CancellationToken cancellationToken);

    /// <summary>Called (on the session's read loop: keep it short) when the host acknowledges consumption.</summary>
    void OnAcknowledged(Action<ulong> callback);
}
