using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace LightVM.Images.Unpack;

/// <summary>
/// Turns one layer blob (tar, tar+gzip or tar+zstd; the format is sniffed from the magic bytes, not trusted from the
/// media type) into a directory in overlayfs diff form, checking the uncompressed digest against the config's diff id.
/// </summary>
internal static class LayerUnpacker
{
    private static readonly byte[] GzipMagic = [0x1f, 0x8b];
    private static readonly byte[] ZstdMagic = [0x28, 0xb5, 0x2f, 0xfd];

    /// <summary>Unpacks <paramref name="blob"/> into the empty directory <paramref name="target"/>.</summary>
    /// <param name="blob">The layer blob, seekable.</param>
    /// <param name="diffId">Expected sha256 of the uncompressed tar.</param>
    /// <param name="target">Empty directory to fill.</param>
    /// <param name="what">How messages name the layer (image and digest).</param>
    /// <param name="cancellationToken">Checked between entries.</param>
    /// <exception cref="ImageException">FailedPrecondition for a malformed or hostile layer or a diff id mismatch.</exception>
    public static void Unpack(Stream blob, string diffId, string target, string what, CancellationToken cancellationToken)
    {
        using var decompressed = OpenDecompressed(blob);
        using var hashing = new HashingReadStream(new BufferedStream(decompressed, 128 * 1024));
        try
        {
            using (var reader = new TarReader(hashing, leaveOpen: true))
            {
                var applier = new TarApplier(target, what);
                TarEntry? entry;
                while ((entry = reader.GetNextEntry(copyData: false)) is not null)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    applier.Apply(entry);
                }

                applier.Finish();
            }

            // The tar's end-of-archive blocks and any padding are part of the diff id.
            hashing.DrainToEnd();
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException
                                      or ZstdSharp.ZstdException)
        {
            throw new ImageException(ImageErrorKind.FailedPrecondition, $"{what}: malformed layer: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new ImageException(ImageErrorKind.Internal, $"{what}: unpacking failed: {e.Message}", e);
        }

        var actual = hashing.Digest();
        if (!string.Equals(actual, diffId, StringComparison.Ordinal))
        {
            throw new ImageException(
                ImageErrorKind.FailedPrecondition,
                $"{what}: uncompressed content has digest {actual}, the image config says {diffId}");
        }
    }

    private static Stream OpenDecompressed(Stream blob)
    {
        Span<byte> head = stackalloc byte[4];
        var n = blob.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        blob.Seek(0, SeekOrigin.Begin);
        if (n >= 2 && head[..2].SequenceEqual(GzipMagic))
        {
            return new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true);
        }

        if (n >= 4 && head.SequenceEqual(ZstdMagic))
        {
            return new ZstdSharp.DecompressionStream(blob, leaveOpen: true);
        }

        return new NonClosingStream(blob);
    }

    /// <summary>A read-only pass-through that hashes everything read.</summary>
    private sealed class HashingReadStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _hash.AppendData(buffer[..n]);
            return n;
        }

        public void DrainToEnd()
        {
            var buffer = new byte[64 * 1024];
            while (Read(buffer) > 0)
            {
            }
        }

        public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Lets an uncompressed blob be wrapped and disposed like the decompressors without closing the file.</summary>
    private sealed class NonClosingStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
