using LightVM.Tinyx.Elf;

namespace LightVM.Tinyx.Initramfs;

/// <summary>A host file and where it goes in the guest.</summary>
public readonly record struct FileMapping(string Source, string Destination)
{
    /// <summary>Parses "src:dest"; dest must be absolute.</summary>
    public static FileMapping Parse(string value, string option)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1 || value[colon + 1] != '/')
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"{option} '{value}' must look like <host-file>:<absolute-guest-path>");
        }

        return new FileMapping(value[..colon], value[(colon + 1)..]);
    }
}

/// <summary>An empty directory to create, with its permission bits.</summary>
public readonly record struct DirectorySpec(string Path, uint Permissions)
{
    /// <summary>Parses "/path" or "/path:1777" (octal mode).</summary>
    public static DirectorySpec Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        var path = colon > 0 ? value[..colon] : value;
        if (!path.StartsWith('/'))
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"--dir '{value}' must be an absolute guest path, optionally followed by :<octal mode>");
        }

        uint mode = 0x1ED; // 0755
        if (colon > 0)
        {
            try
            {
                mode = Convert.ToUInt32(value[(colon + 1)..], 8);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
            {
                throw new TinyxException(TinyxErrorKind.InvalidArgument, $"--dir '{value}' has an invalid octal mode", e);
            }
        }

        if (mode > 0xFFF)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"--dir '{value}' mode is larger than 7777");
        }

        return new DirectorySpec(path, mode);
    }
}

/// <summary>Everything that goes into one initramfs. Same spec and same input files give the same bytes.</summary>
public sealed class InitramfsSpec
{
    /// <summary>Busybox applets linked when <see cref="Busybox"/> is set: enough to look around a guest, no more.</summary>
    public static readonly IReadOnlyList<string> BusyboxApplets =
        ["cat", "dmesg", "echo", "ls", "mkdir", "mount", "ps", "sh", "sleep", "umount"];

    /// <summary>Host file placed at /init (an ELF brings its library closure).</summary>
    public string? Init { get; set; }

    /// <summary>ELF programs placed with exactly their shared-library closure.</summary>
    public List<FileMapping> Elves { get; } = [];

    /// <summary>Plain files, mode kept, owned by root.</summary>
    public List<FileMapping> Files { get; } = [];

    /// <summary>Add busybox at /bin/busybox with a few applet links (a debug shell).</summary>
    public bool Busybox { get; set; }

    public string BusyboxPath { get; set; } = "/bin/busybox";

    /// <summary>A root filesystem directory baked in whole, ownership kept (single-application mode).</summary>
    public string? Rootfs { get; set; }

    public List<DirectorySpec> Directories { get; } = [];

    /// <summary>How ELF closures are resolved (sysroot, ld.so.conf, default directories).</summary>
    public LibrarySearchOptions LibrarySearch { get; set; } = new();
}
