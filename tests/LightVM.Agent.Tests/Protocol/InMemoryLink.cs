using System.Buffers;
using System.IO.Pipelines;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Framing;

namespace LightVM.Agent.Tests.Protocol;

/// <summary>A host&lt;-&gt;guest byte stream made of two in-memory pipes.</summary>
internal sealed class InMemoryLink
{
    public Pipe ToGuest { get; } = new(FrameWriter.PipeOptionsFor(AgentProtocol.DefaultMaxFrameBytes));

    public Pipe ToHost { get; } = new(FrameWriter.PipeOptionsFor(AgentProtocol.DefaultMaxFrameBytes));

    public IDuplexPipe GuestSide => new DuplexPipe(ToGuest.Reader, ToHost.Writer);

    /// <summary>The host's end as a stream; disposing it does not close the link, so a later host can reuse it.</summary>
    public Stream OpenHostStream(bool closeOnDispose = false) => new DuplexStream(ToHost.Reader, ToGuest.Writer, closeOnDispose);

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}

/// <summary>A stream over a pipe reader and a pipe writer.</summary>
internal sealed class DuplexStream : Stream
{
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly bool _closeOnDispose;
    private bool _disposed;

    public DuplexStream(PipeReader reader, PipeWriter writer, bool closeOnDispose)
    {
        _reader = reader;
        _writer = writer;
        _closeOnDispose = closeOnDispose;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var result = await _reader.ReadAsync(cancellationToken);
            if (_disposed)
            {
                _reader.AdvanceTo(result.Buffer.Start);
                return 0;
            }

            var count = (int)Math.Min(buffer.Length, result.Buffer.Length);
            result.Buffer.Slice(0, count).CopyTo(buffer.Span);
            _reader.AdvanceTo(result.Buffer.GetPosition(count));
            if (count > 0 || result.IsCompleted)
            {
                return count;
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _writer.WriteAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            _disposed = true;
            _reader.CancelPendingRead();
            if (_closeOnDispose)
            {
                _writer.Complete();
                _reader.Complete();
            }
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// The guest side of a link as one agent process sees it: when that agent goes away it completes its ends, but the
/// link itself (like a virtio port that stays connected to the host) keeps going for the next agent.
/// </summary>
internal sealed class InMemoryLinkView : IDuplexPipe
{
    public InMemoryLinkView(InMemoryLink link)
    {
        Input = new KeepOpenReader(link.ToGuest.Reader);
        Output = new KeepOpenWriter(link.ToHost.Writer);
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    private sealed class KeepOpenReader(PipeReader inner) : PipeReader
    {
        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => inner.ReadAsync(cancellationToken);

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);
    }

    private sealed class KeepOpenWriter(PipeWriter inner) : PipeWriter
    {
        public override void Advance(int bytes) => inner.Advance(bytes);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null)
        {
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
