using System.Globalization;
using System.Text;
using LightVM.Tinyx.Elf;
using LightVM.Tinyx.Initramfs;
using Microsoft.Extensions.Logging;

namespace LightVM.Tinyx.Cli;

internal static class InitramfsCommand
{
    public static async Task<int> RunAsync(Arguments args, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var options = new TinyxOptions();
        var spec = new InitramfsSpec();
        string? output = null;
        while (args.TryNextOption(out var option))
        {
            switch (option)
            {
                case "--init": spec.Init = args.Value(option); break;
                case "--elf": spec.Elves.Add(FileMapping.Parse(args.Value(option), option)); break;
                case "--file": spec.Files.Add(FileMapping.Parse(args.Value(option), option)); break;
                case "--dir": spec.Directories.Add(DirectorySpec.Parse(args.Value(option))); break;
                case "--busybox": spec.Busybox = true; break;
                case "--busybox-path": spec.BusyboxPath = args.Value(option); break;
                case "--rootfs": spec.Rootfs = args.Value(option); break;
                case "--sysroot": spec.LibrarySearch = new LibrarySearchOptions { Root = new SysRoot(Path.GetFullPath(args.Value(option))) }; break;
                case "--cache": options.CacheDirectory = Path.GetFullPath(args.Value(option)); break;
                case "--output": output = args.Value(option); break;
                default: throw Arguments.Unknown("initramfs", option);
            }
        }

        if (spec.Init is null && spec.Rootfs is null)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, "initramfs needs --init or --rootfs (the kernel runs /init)");
        }

        var result = await new InitramfsBuilder(options, loggers.CreateLogger<InitramfsBuilder>()).BuildAsync(spec, cancellationToken).ConfigureAwait(false);
        Console.Write(FormatListing(result));
        if (output is not null)
        {
            File.Copy(result.Path, output, overwrite: true);
            Console.WriteLine($"copied: {Path.GetFullPath(output)}");
        }

        Console.WriteLine($"sha256: {result.Sha256}");
        Console.WriteLine($"initramfs: {result.Path}");
        return 0;
    }

    /// <summary>One line per entry (type, mode, owner, size, path, where it came from) and the totals.</summary>
    public static string FormatListing(InitramfsResult result)
    {
        var text = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        static string Shown(ArchiveEntry e) => e.Type == ArchiveEntryType.Symlink ? $"{e.Path} -> {e.LinkTarget}" : e.Path;
        var width = Math.Max(20, result.Entries.Max(e => Shown(e).Length) + 2);
        text.AppendLine(ci, $"{"TYPE",-7} {"MODE",4} {"OWNER",-9} {"SIZE",10}  {"PATH".PadRight(width)}FROM");
        foreach (var e in result.Entries)
        {
            var type = e.Type switch
            {
                ArchiveEntryType.Directory => "dir",
                ArchiveEntryType.File => "file",
                ArchiveEntryType.Symlink => "link",
                ArchiveEntryType.CharacterDevice => "chr",
                ArchiveEntryType.BlockDevice => "blk",
                _ => "fifo",
            };
            var path = Shown(e);
            var size = e.Type == ArchiveEntryType.File ? e.Size.ToString(ci) : "-";
            text.AppendLine(ci, $"{type,-7} {Convert.ToString(e.Permissions, 8),4} {$"{e.Uid}:{e.Gid}",-9} {size,10}  {path.PadRight(width)}{e.Origin}");
        }

        var files = result.Entries.Where(e => e.Type == ArchiveEntryType.File).ToList();
        text.AppendLine(ci, $"total: {result.Entries.Count} entries, {files.Count} files, {files.Sum(f => f.Size)} bytes of content; "
            + $"archive {result.UncompressedSize} bytes, gzip {result.CompressedSize} bytes ({result.CompressedSize / 1048576.0:F2} MiB){(result.Reused ? ", already cached" : string.Empty)}");
        return text.ToString();
    }
}
