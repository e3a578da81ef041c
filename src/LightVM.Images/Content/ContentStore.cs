using System.Buffers;
using System.Security.Cryptography;
using LightVM.Images.Internal;

namespace LightVM.Images.Content;

/// <summary>
/// Blobs by digest under <c>&lt;root&gt;/blobs/sha256/&lt;hex&gt;</c>. A blob is written to <c>&lt;root&gt;/ingest</c>,
/// verified, fsynced and renamed into place, so a file under <c>blobs</c> is always complete and correct; whatever a
/// crash leaves in <c>ingest</c> is deleted on start.
/// </summary>
internal sealed class ContentStore
{
    private readonly string _blobs;
    private readonly string _ingest;

    public ContentStore(string root)
    {
        _blobs = Path.Combine(root, "blobs", "sha256");
        _ingest = Path.Combine(root, "ingest");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_ingest);
    }

    /// <summary>Deletes leftovers of interrupted writes.</summary>
    public int CleanIngest()
    {
        var count = 0;
        foreach (var file in Directory.EnumerateFiles(_ingest))
        {
            File.Delete(file);
            count++;
        }

        return count;
    }

    public string BlobPath(string digest) => Path.Combine(_blobs, Hex(digest));

    public bool Exists(string digest) => File.Exists(BlobPath(digest));

    /// <summary>Every stored blob's digest.</summary>
    public IEnumerable<string> List() =>
        Directory.EnumerateFiles(_blobs).Select(f => "sha256:" + Path.GetFileName(f));

    /// <summary>Deletes the blob; absent is fine.</summary>
    public void Delete(string digest) => File.Delete(BlobPath(digest));

    /// <summary>Starts writing the blob <paramref name="digest"/>; the writer verifies it on commit.</summary>
    public BlobWriter BeginWrite(string digest, long expectedSize)
    {
        var temp = Path.Combine(_ingest, $"{Hex(digest)}-{Guid.NewGuid():N}");
        return new BlobWriter(this, digest, expectedSize, temp);
    }

    /// <summary>Stores a small blob held in memory (manifests), verifying its digest.</summary>
    public async Task PutAsync(string digest, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (Exists(digest))
        {
            return;
        }

        await using var writer = BeginWrite(digest, data.Length);
        await writer.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        writer.Commit();
    }

    /// <summary>Opens a stored blob for reading.</summary>
    public FileStream OpenRead(string digest) =>
        new(BlobPath(digest), new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 0,
            Options = FileOptions.SequentialScan,
        });

    internal void Publish(string temp, string digest)
    {
        var target = BlobPath(digest);
        File.Move(temp, target, overwrite: true);
        using var dir = NativeMethods.OpenDirectory(_blobs);
        NativeMethods.Check(NativeMethods.FSync(dir), "fsync", _blobs);
    }

    internal static string Hex(string digest)
    {
        if (!ImageReference.IsValidDigest(digest))
        {
            throw new ImageException(ImageErrorKind.InvalidArgument, $"unsupported or malformed digest '{digest}'");
        }

        return digest[7..];
    }
}

/// <summary>
/// One blob being written: hashes and counts what passes through, refuses more bytes than announced, and on
/// <see cref="Commit"/> checks digest and size before the blob becomes visible. Disposing without commit deletes it.
/// </summary>
internal sealed class BlobWriter : IAsyncDisposable
{
    private readonly ContentStore _store;
    private readonly string _digest;
    private readonly long _expectedSize;
    private readonly string _temp;
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _committed;

    internal BlobWriter(ContentStore store, string digest, long expectedSize, string temp)
    {
        _store = store;
        _digest = digest;
        _expectedSize = expectedSize;
        _temp = temp;
        _file = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            BufferSize = 0,
        });
    }

    /// <summary>Bytes written so far.</summary>
    public long Written { get; private set; }

    /// <summary>Discards what was written so a retry starts from the beginning.</summary>
    public void Reset()
    {
        _file.SetLength(0);
        _file.Position = 0;
        _hash.GetHashAndReset();
        Written = 0;
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (Written + data.Length > _expectedSize)
        {
            throw new ImageException(
                ImageErrorKind.FailedPrecondition,
                $"blob {_digest}: registry sent more than the {_expectedSize} bytes the manifest announced");
        }

        _hash.AppendData(data.Span);
        await _file.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        Written += data.Length;
    }

    /// <summary>Copies <paramref name="source"/> in, calling <paramref name="progress"/> after each chunk.</summary>
    public async Task CopyFromAsync(Stream source, Action<long>? progress, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                progress?.Invoke(Written);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Verifies size and digest, fsyncs and makes the blob visible under its digest.</summary>
    /// <exception cref="ImageException">Kind FailedPrecondition when the content is short or does not match.</exception>
    public void Commit()
    {
        if (Written != _expectedSize)
        {
            throw new ImageException(
                ImageErrorKind.FailedPrecondition,
                $"blob {_digest}: got {Written} bytes, the manifest announced {_expectedSize}");
        }

        var actual = "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (!string.Equals(actual, _digest, StringComparison.Ordinal))
        {
            throw new ImageException(
                ImageErrorKind.FailedPrecondition,
                $"blob {_digest}: content has digest {actual}; refusing it");
        }

        _file.Flush(flushToDisk: true);
        _file.Dispose();
        _store.Publish(_temp, _digest);
        _committed = true;
    }

    public async ValueTask DisposeAsync()
    {
        await _file.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        if (!_committed)
        {
            File.Delete(_temp);
        }
    }
}
