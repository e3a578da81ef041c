using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace LightVM.Testing;

/// <summary>How a built layer's tar is compressed.</summary>
public enum LayerCompression
{
    None,
    Gzip,
    Zstd,
}

/// <summary>A layer blob ready to push.</summary>
/// <param name="Blob">The (compressed) blob.</param>
/// <param name="Digest">sha256 of <paramref name="Blob"/>.</param>
/// <param name="DiffId">sha256 of the uncompressed tar.</param>
/// <param name="MediaType">OCI layer media type matching the compression.</param>
public sealed record Layer(byte[] Blob, string Digest, string DiffId, string MediaType)
{
    public long Size => Blob.LongLength;
}

/// <summary>
/// Builds a layer tar in memory from a list of entries. Names are written exactly as given, so hostile layers
/// (<c>../x</c>, <c>/etc/x</c>, links pointing outside) can be built too.
/// </summary>
public sealed class LayerBuilder
{
    private static readonly DateTimeOffset DefaultTime = new(2024, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly List<PaxTarEntry> _entries = [];

    public int Count => _entries.Count;

    public LayerBuilder Directory(string path, int mode = 0b111_101_101, int uid = 0, int gid = 0, DateTimeOffset? mtime = null) =>
        Add(TarEntryType.Directory, path, mode, uid, gid, mtime);

    public LayerBuilder File(string path, string content, int mode = 0b110_100_100, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, IReadOnlyDictionary<string, string>? xattrs = null) =>
        File(path, System.Text.Encoding.UTF8.GetBytes(content), mode, uid, gid, mtime, xattrs);

    public LayerBuilder File(string path, byte[] content, int mode = 0b110_100_100, int uid = 0, int gid = 0, DateTimeOffset? mtime = null, IReadOnlyDictionary<string, string>? xattrs = null)
    {
        var entry = Entry(TarEntryType.RegularFile, path, mode, uid, gid, mtime, xattrs);
        entry.DataStream = new MemoryStream(content, writable: false);
        _entries.Add(entry);
        return this;
    }

    public LayerBuilder Symlink(string path, string target, int uid = 0, int gid = 0)
    {
        var entry = Entry(TarEntryType.SymbolicLink, path, 0b111_111_111, uid, gid, null, null);
        entry.LinkName = target;
        _entries.Add(entry);
        return this;
    }

    public LayerBuilder HardLink(string path, string target)
    {
        var entry = Entry(TarEntryType.HardLink, path, 0b110_100_100, 0, 0, null, null);
        entry.LinkName = target;
        _entries.Add(entry);
        return this;
    }

    public LayerBuilder CharDevice(string path, int major, int minor, int mode = 0b110_110_110)
    {
        var entry = Entry(TarEntryType.CharacterDevice, path, mode, 0, 0, null, null);
        entry.DeviceMajor = major;
        entry.DeviceMinor = minor;
        _entries.Add(entry);
        return this;
    }

    public LayerBuilder Fifo(string path, int mode = 0b110_100_100) => Add(TarEntryType.Fifo, path, mode, 0, 0, null);

    /// <summary>Deletes <paramref name="path"/> of lower layers (an OCI <c>.wh.</c> file).</summary>
    public LayerBuilder Whiteout(string path)
    {
        var slash = path.LastIndexOf('/');
        var name = slash < 0 ? $".wh.{path}" : $"{path[..(slash + 1)]}.wh.{path[(slash + 1)..]}";
        return File(name, []);
    }

    /// <summary>Hides everything lower layers have under <paramref name="directory"/>.</summary>
    public LayerBuilder Opaque(string directory) => File($"{directory.TrimEnd('/')}/.wh..wh..opq", []);

    /// <summary>Random bytes, so the file does not compress (for size-realistic benchmarks).</summary>
    public LayerBuilder RandomFile(string path, int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return File(path, data, 0b111_101_101);
    }

    /// <summary>Writes the tar, compresses it, and computes digest and diff id.</summary>
    public Layer Build(LayerCompression compression = LayerCompression.Gzip)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var entry in _entries)
            {
                if (entry.DataStream is { CanSeek: true } data)
                {
                    data.Position = 0;
                }

                writer.WriteEntry(entry);
            }
        }

        var raw = tar.ToArray();
        var diffId = Digest(raw);
        byte[] blob;
        string mediaType;
        switch (compression)
        {
            case LayerCompression.Gzip:
                using (var output = new MemoryStream())
                {
                    using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
                    {
                        gzip.Write(raw);
                    }

                    blob = output.ToArray();
                }

                mediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
                break;
            case LayerCompression.Zstd:
                using (var compressor = new ZstdSharp.Compressor(3))
                {
                    blob = compressor.Wrap(raw).ToArray();
                }

                mediaType = "application/vnd.oci.image.layer.v1.tar+zstd";
                break;
            default:
                blob = raw;
                mediaType = "application/vnd.oci.image.layer.v1.tar";
                break;
        }

        return new Layer(blob, Digest(blob), diffId, mediaType);
    }

    public static string Digest(ReadOnlySpan<byte> data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    private LayerBuilder Add(TarEntryType type, string path, int mode, int uid, int gid, DateTimeOffset? mtime)
    {
        _entries.Add(Entry(type, path, mode, uid, gid, mtime, null));
        return this;
    }

    private static PaxTarEntry Entry(TarEntryType type, string path, int mode, int uid, int gid, DateTimeOffset? mtime, IReadOnlyDictionary<string, string>? xattrs)
    {
        var extended = xattrs?.ToDictionary(kv => $"SCHILY.xattr.{kv.Key}", kv => kv.Value) ?? [];
        return new PaxTarEntry(type, path, extended)
        {
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            ModificationTime = mtime ?? DefaultTime,
        };
    }
}
