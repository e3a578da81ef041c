using LightVM.Agent.Protocol.Framing;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol.Server;

/// <summary>One call in progress on the guest: its cancellation and, for streams, the credit the host granted.</summary>
internal sealed class ServerCall : IStreamSink, IDisposable
{
    private readonly FrameSender _sender;
    private readonly object _gate = new();
    private long _credit;
    private TaskCompletionSource? _creditWaiter;
    private Action<ulong>? _onAck;

    public ServerCall(uint id, FrameSender sender, CancellationToken session)
    {
        Id = id;
        _sender = sender;
        Cancellation = CancellationTokenSource.CreateLinkedTokenSource(session);
    }

    public uint Id { get; }

    public CancellationTokenSource Cancellation { get; }

    public int MaxPayload => _sender.MaxPayload;

    /// <summary>Cancels the call; harmless when it already finished.</summary>
    public void Cancel()
    {
        try
        {
            Cancellation.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Finished between lookup and cancel.
        }
    }

    public void Grant(uint credit, ulong? ackOffset)
    {
        TaskCompletionSource? waiter;
        Action<ulong>? onAck;
        lock (_gate)
        {
            _credit += credit;
            waiter = _credit > 0 ? _creditWaiter : null;
            if (waiter is not null)
            {
                _creditWaiter = null;
            }

            onAck = _onAck;
        }

        waiter?.TrySetResult();
        if (ackOffset is { } ack)
        {
            onAck?.Invoke(ack);
        }
    }

    public async ValueTask<int> WaitForCreditAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_credit > 0)
                {
                    return (int)Math.Min(_credit, int.MaxValue);
                }

                _creditWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                wait = _creditWaiter.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask SendAsync(StreamItem item, int chargedBytes, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _credit -= chargedBytes;
        }

        return _sender.SendAsync(FrameType.StreamData, Id, item, cancellationToken);
    }

    public void OnAcknowledged(Action<ulong> callback)
    {
        lock (_gate)
        {
            _onAck = callback;
        }
    }

    public void Dispose() => Cancellation.Dispose();
}
