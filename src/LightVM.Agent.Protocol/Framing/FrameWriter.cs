using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;

namespace LightVM.Agent.Protocol.Framing;

/// <summary>Encodes frames straight into a buffer writer: header, protobuf payload, payload checksum.</summary>
public static class FrameWriter
{
    /// <summary>Writes one frame; refuses payloads larger than <paramref name="maxPayload"/>.</summary>
    public static void Write(IBufferWriter<byte> output, FrameType type, uint callId, IMessage? message, int maxPayload)
    {
        var length = message?.CalculateSize() ?? 0;
        if (length > maxPayload)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument,
                $"{type} frame payload of {length} bytes exceeds the maximum frame size of {maxPayload} bytes");
        }

        var header = new FrameHeader(type, callId, length);
        var span = output.GetSpan(header.FrameSize);
        if (span.Length >= header.FrameSize)
        {
            var payload = span.Slice(FrameHeader.Size, length);
            message?.WriteTo(payload);
            Finish(span, header, payload);
            output.Advance(header.FrameSize);
            return;
        }

        // The writer could not hand out one contiguous block: build the frame aside and copy it.
        var rented = ArrayPool<byte>.Shared.Rent(header.FrameSize);
        try
        {
            var frame = rented.AsSpan(0, header.FrameSize);
            var payload = frame.Slice(FrameHeader.Size, length);
            message?.WriteTo(payload);
            Finish(frame, header, payload);
            output.Write(frame);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void Finish(Span<byte> frame, FrameHeader header, ReadOnlySpan<byte> payload)
    {
        header.Write(frame);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[(FrameHeader.Size + header.Length)..], Crc32C.Compute(payload));
    }

    /// <summary>
    /// Pipe options for pipes that carry frames: the writer must not be paused before a whole frame is buffered,
    /// or a reader waiting for the rest of a large frame would wait forever.
    /// </summary>
    public static PipeOptions PipeOptionsFor(int maxFrameBytes)
    {
        var pause = 2L * (maxFrameBytes + FrameHeader.Size + FrameHeader.TrailerSize);
        return new PipeOptions(pauseWriterThreshold: pause, resumeWriterThreshold: pause / 2, useSynchronizationContext: false);
    }
}
