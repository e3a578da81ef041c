using System.IO.Compression;
using System.Security.Cryptography;
using LightVM.Tinyx.Cpio;
using LightVM.Tinyx.Elf;
using Microsoft.Extensions.Logging;

namespace LightVM.Tinyx.Initramfs;

/// <summary>The published image: where it is, its hash, and what it holds.</summary>
public sealed record InitramfsResult(string Path, string Sha256, long CompressedSize, long UncompressedSize, IReadOnlyList<ArchiveEntry> Entries, bool Reused);

/// <summary>
/// Builds a gzip'd newc initramfs from an <see cref="InitramfsSpec"/> into the cache, named by the SHA-256 of its
/// bytes. Deterministic: entries sorted by path, inode numbers from that order, mtime 0, root ownership (a baked
/// rootfs keeps its own), gzip without a timestamp. Written to a temp file and renamed into place.
/// </summary>
public sealed class InitramfsBuilder
{
    /// <summary>Fixed mtime of every entry; the kernel keeps it (INITRAMFS_PRESERVE_MTIME), tools see 1970.</summary>
    public const uint ModificationTime = 0;

    private readonly TinyxOptions _options;
    private readonly ILogger _logger;

    public InitramfsBuilder(TinyxOptions options, ILogger<InitramfsBuilder> logger)
    {
        _options = options;
        _logger = logger;
    }

    /// <summary>Collects the entries of a spec without writing anything (also used for listings and tests).</summary>
    public static ArchiveTree Collect(InitramfsSpec spec, CancellationToken cancellationToken)
    {
        var tree = new ArchiveTree();
        if (spec.Rootfs is { } rootfs)
        {
            RootfsScanner.AddTo(tree, rootfs, cancellationToken);
        }

        var placer = new ElfPlacer(tree, spec.LibrarySearch);
        foreach (var elf in spec.Elves)
        {
            cancellationToken.ThrowIfCancellationRequested();
            placer.Place(elf.Source, elf.Destination, $"--elf {elf.Source}");
        }

        if (spec.Busybox)
        {
            placer.Place(spec.BusyboxPath, "/bin/busybox", "--busybox", 0x1ED);
            foreach (var applet in InitramfsSpec.BusyboxApplets)
            {
                tree.AddIfAbsent(new ArchiveEntry($"/bin/{applet}", ArchiveEntryType.Symlink, 0x1FF, 0, 0, "--busybox", LinkTarget: "busybox"));
            }
        }

        if (spec.Init is { } init)
        {
            if (ElfFile.IsElf(init))
            {
                placer.Place(init, "/init", "--init", 0x1ED);
            }
            else
            {
                placer.AddRegularFile(init, "/init", "--init", 0x1ED);
            }
        }

        foreach (var file in spec.Files)
        {
            placer.AddRegularFile(file.Source, file.Destination, $"--file {file.Source}", null);
        }

        foreach (var directory in spec.Directories)
        {
            if (!(tree.TryGet(tree.Canonicalize(directory.Path), out var existing) && existing.Type == ArchiveEntryType.Directory))
            {
                tree.Add(new ArchiveEntry(directory.Path, ArchiveEntryType.Directory, directory.Permissions, 0, 0, "--dir"));
            }
        }

        // The kernel opens /dev/console for init's stdio before init runs, and devtmpfs is not mounted yet.
        tree.AddIfAbsent(new ArchiveEntry("/dev", ArchiveEntryType.Directory, 0x1ED, 0, 0, "default"));
        tree.AddIfAbsent(new ArchiveEntry("/dev/console", ArchiveEntryType.CharacterDevice, 0x180 /* 0600 */, 0, 0, "default", RdevMajor: 5, RdevMinor: 1));
        return tree;
    }

    public async Task<InitramfsResult> BuildAsync(InitramfsSpec spec, CancellationToken cancellationToken)
    {
        _options.Validate();
        var entries = Collect(spec, cancellationToken).Sorted();
        TinyxLog.InitramfsCollected(_logger, entries.Count, entries.Where(e => e.Type == ArchiveEntryType.File).Sum(e => e.Size));

        var directory = _options.InitramfsCacheDirectory;
        Directory.CreateDirectory(directory);
        var temp = Path.Combine(directory, $".tmp-{Guid.NewGuid():N}.cpio.gz");
        try
        {
            long uncompressed;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await using var gzip = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
                var counting = new CountingStream(gzip);
                await WriteArchiveAsync(counting, entries, cancellationToken).ConfigureAwait(false);
                uncompressed = counting.Written;
            }

            string sha256;
            await using (var read = File.OpenRead(temp))
            {
                sha256 = Convert.ToHexStringLower(await SHA256.HashDataAsync(read, cancellationToken).ConfigureAwait(false));
            }

            var final = Path.Combine(directory, $"{sha256}.cpio.gz");
            var reused = File.Exists(final);
            if (reused)
            {
                File.Delete(temp);
            }
            else
            {
                // Content-addressed: a concurrent build of the same spec wrote the same bytes, so replacing is safe.
                File.Move(temp, final, overwrite: true);
            }

            var size = new FileInfo(final).Length;
            TinyxLog.InitramfsPublished(_logger, final, size, reused);
            return new InitramfsResult(final, sha256, size, uncompressed, entries, reused);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Writes the sorted entries as newc; inode numbers are the entry's position, so they never collide.</summary>
    public static async Task WriteArchiveAsync(Stream output, IReadOnlyList<ArchiveEntry> entries, CancellationToken cancellationToken)
    {
        var writer = new NewcWriter(output);
        uint inode = 0;
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            inode++;
            var name = entry.Path.TrimStart('/');
            var header = new NewcHeader(inode, entry.Mode, entry.Uid, entry.Gid, entry.Type == ArchiveEntryType.Directory ? 2u : 1u, ModificationTime, 0, entry.RdevMajor, entry.RdevMinor);
            switch (entry.Type)
            {
                case ArchiveEntryType.File:
                    if (entry.Size > uint.MaxValue)
                    {
                        throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{entry.Path}' is {entry.Size} bytes; newc cpio holds at most 4 GiB per file");
                    }

                    await using (var data = new FileStream(entry.SourcePath!, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
                    {
                        await writer.WriteEntryAsync(name, header with { FileSize = (uint)entry.Size }, data, cancellationToken).ConfigureAwait(false);
                    }

                    break;
                case ArchiveEntryType.Symlink:
                    await writer.WriteSymlinkAsync(name, header, entry.LinkTarget!, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    await writer.WriteEntryAsync(name, header, null, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        await writer.WriteTrailerAsync(cancellationToken).ConfigureAwait(false);
    }
}
