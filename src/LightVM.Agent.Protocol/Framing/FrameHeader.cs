using System.Buffers.Binary;

namespace LightVM.Agent.Protocol.Framing;

/// <summary>
/// The fixed 20-byte frame header, little-endian:
/// <code>
///  0  magic "LVMA"          4  type      5  flags (0)   6  reserved u16 (0)
///  8  call id u32          12  payload length u32       16  crc32c of bytes 0..15
/// </code>
/// The payload follows, then a crc32c of the payload. The magic and both checksums let a reader that lost its
/// place (a peer that died mid-frame, garbage on the line) find the next real frame instead of misreading.
/// </summary>
public readonly record struct FrameHeader(FrameType Type, uint CallId, int Length)
{
    public const int Size = 20;
    public const int TrailerSize = 4;

    /// <summary>"LVMA" read as a little-endian u32.</summary>
    internal const uint Magic = 0x414D564C;

    internal static ReadOnlySpan<byte> MagicBytes => "LVMA"u8;

    /// <summary>Total bytes on the wire for this frame.</summary>
    public int FrameSize => Size + Length + TrailerSize;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        destination[4] = (byte)Type;
        destination[5] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], CallId);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], Crc32C.Compute(destination[..16]));
    }

    /// <summary>Parses a header; returns a reason when the bytes are not a valid header.</summary>
    public static string? TryParse(ReadOnlySpan<byte> source, out FrameHeader header)
    {
        header = default;
        if (BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic)
        {
            return "bad frame magic";
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(source[16..]) != Crc32C.Compute(source[..16]))
        {
            return "frame header checksum mismatch";
        }

        var type = (FrameType)source[4];
        if (type is < FrameType.Hello or > FrameType.Window)
        {
            return $"unknown frame type {source[4]}";
        }

        var length = BinaryPrimitives.ReadUInt32LittleEndian(source[12..]);
        if (length > int.MaxValue - Size - TrailerSize)
        {
            return $"frame length {length} is out of range";
        }

        header = new FrameHeader(type, BinaryPrimitives.ReadUInt32LittleEndian(source[8..]), (int)length);
        return null;
    }
}
