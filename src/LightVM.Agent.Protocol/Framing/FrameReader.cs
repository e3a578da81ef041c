using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;

namespace LightVM.Agent.Protocol.Framing;

public enum FrameReadStatus
{
    /// <summary>A complete, checksummed frame; its payload is valid until the next read.</summary>
    Frame,

    /// <summary>The bytes were not a valid frame; the reader skipped past them and is hunting (if it resyncs).</summary>
    Corrupt,

    /// <summary>The peer closed the stream.</summary>
    Completed,
}

public readonly record struct FrameReadResult(
    FrameReadStatus Status,
    FrameHeader Header,
    ReadOnlySequence<byte> Payload,
    string? Error);

/// <summary>
/// Reads frames from a <see cref="PipeReader"/> without copying them.
/// </summary>
/// <remarks>
/// Hunting: after <see cref="Hunt"/> the reader discards everything until a valid frame of the wanted type (magic,
/// header checksum, payload checksum all good). Each connection starts that way, which resynchronises a stream
/// that still carries the tail of an earlier connection's frame. A stall timeout bounds the other failure: a
/// partial frame whose sender died would otherwise swallow the next connection's Hello as its payload; when no
/// byte arrives for that long while a frame is incomplete, the reader gives up on it and rescans the bytes it held.
/// </remarks>
public sealed class FrameReader : IDisposable
{
    private readonly PipeReader _reader;
    private readonly int _maxPayload;
    private readonly bool _resync;
    private readonly TimeSpan _stallTimeout;
    private readonly Timer? _stallTimer;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private bool _completed;
    private long _lastProgress;
    private bool _hunting;
    private FrameType? _wanted;

    /// <param name="reader">The byte stream.</param>
    /// <param name="maxPayload">Frames with a larger payload are refused as corrupt.</param>
    /// <param name="resync">After a corrupt frame, hunt for the next valid frame (the guest); false: stay put.</param>
    /// <param name="stallTimeout">Give up on an incomplete frame after this long without a byte; infinite: never.</param>
    public FrameReader(PipeReader reader, int maxPayload, bool resync, TimeSpan stallTimeout)
    {
        _reader = reader;
        _maxPayload = maxPayload;
        _resync = resync;
        _stallTimeout = stallTimeout;
        if (stallTimeout != Timeout.InfiniteTimeSpan)
        {
            _stallTimer = new Timer(static state => ((PipeReader)state!).CancelPendingRead(), reader, Timeout.Infinite, Timeout.Infinite);
        }
    }

    /// <summary>Bytes skipped while hunting or after corrupt frames.</summary>
    public long DiscardedBytes { get; private set; }

    public bool IsHunting => _hunting;

    /// <summary>Discards input until a valid frame of <paramref name="type"/>.</summary>
    public void Hunt(FrameType type) => (_hunting, _wanted) = (true, type);

    /// <summary>Discards input until any valid frame.</summary>
    public void HuntAny() => (_hunting, _wanted) = (true, null);

    /// <summary>Reads the next frame. The previous frame's payload becomes invalid.</summary>
    public async ValueTask<FrameReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        var stalled = false;
        while (true)
        {
            if (_holdingBuffer)
            {
                var status = Parse(ref _buffer, stalled, out var header, out var payload, out var error);
                stalled = false;
                if (status != FrameReadStatus.Completed)
                {
                    return new FrameReadResult(status, header, payload, error);
                }

                if (_completed)
                {
                    DiscardedBytes += _buffer.Length;
                    _reader.AdvanceTo(_buffer.End);
                    _holdingBuffer = false;
                    return new FrameReadResult(FrameReadStatus.Completed, default, default, null);
                }

                _reader.AdvanceTo(_buffer.Start, _buffer.End);
                _holdingBuffer = false;
            }
            else if (_completed)
            {
                return new FrameReadResult(FrameReadStatus.Completed, default, default, null);
            }

            var held = _buffer.Length;
            var armed = _stallTimer is not null && held > 0;
            if (armed)
            {
                _stallTimer!.Change(_stallTimeout, Timeout.InfiniteTimeSpan);
            }

            ReadResult result;
            try
            {
                result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (armed)
                {
                    _stallTimer!.Change(Timeout.Infinite, Timeout.Infinite);
                }
            }

            _buffer = result.Buffer;
            _holdingBuffer = true;
            _completed = result.IsCompleted;
            if (_buffer.Length > held || held == 0)
            {
                _lastProgress = Stopwatch.GetTimestamp();
            }
            else if (result.IsCanceled && Stopwatch.GetElapsedTime(_lastProgress) >= _stallTimeout)
            {
                stalled = true;
            }
        }
    }

    /// <summary>Parses one frame from <paramref name="buffer"/>; <see cref="FrameReadStatus.Completed"/> means "need more".</summary>
    private FrameReadStatus Parse(
        ref ReadOnlySequence<byte> buffer, bool stalled, out FrameHeader header, out ReadOnlySequence<byte> payload, out string? error)
    {
        header = default;
        payload = default;
        error = null;
        Span<byte> bytes = stackalloc byte[FrameHeader.Size];
        Span<byte> trailer = stackalloc byte[FrameHeader.TrailerSize];
        while (true)
        {
            if (_hunting && !SeekMagic(ref buffer))
            {
                return FrameReadStatus.Completed;
            }

            if (buffer.Length < FrameHeader.Size)
            {
                if (!stalled || buffer.IsEmpty)
                {
                    return FrameReadStatus.Completed;
                }

                error = $"truncated frame header: the peer stopped after {buffer.Length} bytes";
            }
            else
            {
                buffer.Slice(0, FrameHeader.Size).CopyTo(bytes);
                error = FrameHeader.TryParse(bytes, out header);
                if (error is null && header.Length > _maxPayload)
                {
                    error = $"frame payload of {header.Length} bytes exceeds the maximum of {_maxPayload} bytes";
                }
                else if (error is null && _hunting && _wanted is { } wanted && header.Type != wanted)
                {
                    error = $"expected a {wanted} frame, got {header.Type}";
                }
                else if (error is null && buffer.Length < header.FrameSize)
                {
                    if (!stalled)
                    {
                        return FrameReadStatus.Completed;
                    }

                    error = $"incomplete frame: the peer stopped after {buffer.Length} of {header.FrameSize} bytes";
                }
                else if (error is null)
                {
                    payload = buffer.Slice(FrameHeader.Size, header.Length);
                    buffer.Slice(FrameHeader.Size + header.Length, FrameHeader.TrailerSize).CopyTo(trailer);
                    if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) == Crc32C.Compute(payload))
                    {
                        buffer = buffer.Slice(header.FrameSize);
                        _hunting = false;
                        return FrameReadStatus.Frame;
                    }

                    payload = default;
                    error = "frame payload checksum mismatch";
                }
            }

            // Not a frame here. Step over the first byte and look for the next magic.
            stalled = false;
            header = default;
            buffer = buffer.Slice(1);
            DiscardedBytes++;
            if (!_hunting)
            {
                (_hunting, _wanted) = (_resync, null);
                return FrameReadStatus.Corrupt;
            }
        }
    }

    /// <summary>Drops bytes up to the next frame magic; false when more input is needed to find one.</summary>
    private bool SeekMagic(ref ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        var magic = FrameHeader.MagicBytes;
        while (reader.TryAdvanceTo(magic[0], advancePastDelimiter: false))
        {
            if (reader.Remaining < magic.Length)
            {
                // Might be the start of a magic split across reads: keep it.
                Drop(ref buffer, reader.Position);
                return false;
            }

            if (reader.IsNext(magic))
            {
                Drop(ref buffer, reader.Position);
                return true;
            }

            reader.Advance(1);
        }

        DiscardedBytes += buffer.Length;
        buffer = buffer.Slice(buffer.End);
        return false;
    }

    private void Drop(ref ReadOnlySequence<byte> buffer, SequencePosition position)
    {
        var dropped = buffer.Slice(buffer.Start, position);
        DiscardedBytes += dropped.Length;
        buffer = buffer.Slice(position);
    }

    public void Dispose() => _stallTimer?.Dispose();
}
