using System.IO.Pipelines;
using Google.Protobuf;

namespace LightVM.Agent.Protocol.Framing;

/// <summary>Serialises frames from concurrent calls onto one <see cref="PipeWriter"/>; whole frames only.</summary>
public sealed class FrameSender : IDisposable
{
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly CancellationToken _lifetime;
    private volatile int _maxPayload;
    private bool _closed;

    /// <param name="writer">The byte stream.</param>
    /// <param name="maxPayload">Largest payload the peer accepts.</param>
    /// <param name="lifetime">Cancels pending flushes when the connection dies. Per-call tokens only cancel waiting
    /// for the lock: a flush abandoned halfway could leave half a frame on the wire.</param>
    public FrameSender(PipeWriter writer, int maxPayload, CancellationToken lifetime)
    {
        _writer = writer;
        _maxPayload = maxPayload;
        _lifetime = lifetime;
    }

    public int MaxPayload
    {
        get => _maxPayload;
        set => _maxPayload = value;
    }

    public async ValueTask SendAsync(FrameType type, uint callId, IMessage? message, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Checked under the lock: a call cancelled while queued never reaches the wire, and on the guest a
            // frame of a superseded session is never written after the next session's handshake.
            cancellationToken.ThrowIfCancellationRequested();
            if (_closed)
            {
                throw new AgentException(AgentErrorKind.Unavailable, "the agent connection is closed");
            }

            FlushResult flush;
            try
            {
                FrameWriter.Write(_writer, type, callId, message, _maxPayload);
                flush = await _writer.FlushAsync(_lifetime).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException
                                          or OperationCanceledException)
            {
                throw new AgentException(AgentErrorKind.Unavailable, $"the agent connection broke: {e.Message}", e);
            }

            if (flush.IsCompleted || flush.IsCanceled)
            {
                throw new AgentException(AgentErrorKind.Unavailable, "the agent connection is closed");
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Completes the writer once no frame is being written; later sends fail.</summary>
    public async ValueTask CompleteAsync()
    {
        await _lock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!_closed)
            {
                _closed = true;
                await _writer.CompleteAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose() => _lock.Dispose();
}
