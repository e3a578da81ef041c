using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace LightVM.Agent.Protocol.Framing;

/// <summary>CRC-32C (Castagnoli) over spans and sequences, using the CPU's crc32 instruction where present.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    public static uint Compute(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            return Compute(data.FirstSpan);
        }

        var crc = ~0u;
        foreach (var segment in data)
        {
            crc = Update(crc, segment.Span);
        }

        return ~crc;
    }

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
