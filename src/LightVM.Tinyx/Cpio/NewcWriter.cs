using System.Globalization;
using System.Text;

namespace LightVM.Tinyx.Cpio;

/// <summary>One header of the "newc" (SVR4, no CRC) cpio format the kernel's initramfs unpacker reads.</summary>
public readonly record struct NewcHeader(
    uint Inode,
    uint Mode,
    uint Uid,
    uint Gid,
    uint LinkCount,
    uint ModificationTime,
    uint FileSize,
    uint RdevMajor,
    uint RdevMinor);

/// <summary>
/// Writes a newc cpio stream: a 110-byte ASCII header, the NUL-terminated name padded to 4 bytes, the data padded
/// to 4 bytes, and the "TRAILER!!!" entry at the end. The caller chooses every header field, so output is
/// deterministic when its inputs are.
/// </summary>
public sealed class NewcWriter
{
    private const string Magic = "070701";
    private const string TrailerName = "TRAILER!!!";
    private readonly Stream _output;
    private long _position;

    public NewcWriter(Stream output)
    {
        _output = output;
    }

    public async Task WriteEntryAsync(string name, NewcHeader header, Stream? data, CancellationToken cancellationToken)
    {
        await WriteHeaderAsync(name, header, cancellationToken).ConfigureAwait(false);
        if (header.FileSize == 0)
        {
            return;
        }

        if (data is null)
        {
            throw new ArgumentException($"entry '{name}' declares {header.FileSize} bytes but has no data", nameof(data));
        }

        var copied = await CopyExactlyAsync(data, header.FileSize, cancellationToken).ConfigureAwait(false);
        if (copied != header.FileSize || data.ReadByte() >= 0)
        {
            throw new TinyxException(TinyxErrorKind.FailedPrecondition, $"'{name}' changed while being archived: expected {header.FileSize} bytes, found {(copied == header.FileSize ? "more" : copied.ToString(CultureInfo.InvariantCulture))}");
        }

        await PadAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteSymlinkAsync(string name, NewcHeader header, string target, CancellationToken cancellationToken)
    {
        var bytes = Encoding.UTF8.GetBytes(target);
        await WriteHeaderAsync(name, header with { FileSize = (uint)bytes.Length }, cancellationToken).ConfigureAwait(false);
        await WriteRawAsync(bytes, cancellationToken).ConfigureAwait(false);
        await PadAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task WriteTrailerAsync(CancellationToken cancellationToken) =>
        WriteHeaderAsync(TrailerName, new NewcHeader(0, 0, 0, 0, 1, 0, 0, 0, 0), cancellationToken);

    private async Task WriteHeaderAsync(string name, NewcHeader h, CancellationToken cancellationToken)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var text = new StringBuilder(110 + nameBytes.Length);
        text.Append(Magic);
        foreach (var field in (ReadOnlySpan<uint>)[h.Inode, h.Mode, h.Uid, h.Gid, h.LinkCount, h.ModificationTime, h.FileSize, 0, 0, h.RdevMajor, h.RdevMinor, (uint)nameBytes.Length + 1, 0])
        {
            text.Append(field.ToString("X8", CultureInfo.InvariantCulture));
        }

        await WriteRawAsync(Encoding.ASCII.GetBytes(text.ToString()), cancellationToken).ConfigureAwait(false);
        await WriteRawAsync(nameBytes, cancellationToken).ConfigureAwait(false);
        await WriteRawAsync(new byte[] { 0 }, cancellationToken).ConfigureAwait(false);
        await PadAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<long> CopyExactlyAsync(Stream data, long count, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        long total = 0;
        while (total < count)
        {
            var read = await data.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - total)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            await WriteRawAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            total += read;
        }

        return total;
    }

    private Task PadAsync(CancellationToken cancellationToken)
    {
        var pad = (int)((4 - (_position % 4)) % 4);
        return pad == 0 ? Task.CompletedTask : WriteRawAsync(new byte[pad], cancellationToken);
    }

    private async Task WriteRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        _position += bytes.Length;
    }
}
