using System.Buffers;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using LightVM.Images.Internal;
using Microsoft.Win32.SafeHandles;

namespace LightVM.Images.Unpack;

/// <summary>
/// Applies tar entries of one layer to a directory in overlayfs diff form. Every path is resolved component by
/// component from the layer root with lstat, so nothing is ever created outside it: absolute names, <c>..</c>,
/// symlinks climbing out or absolute symlinks used as parents, and hard links to outside paths are refused.
/// </summary>
internal sealed partial class TarApplier
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";
    private const string WhiteoutMetaPrefix = ".wh..wh.";
    private const int MaxSymlinkHops = 40;

    private readonly string _root;
    private readonly string _what;
    private readonly List<(string Path, DateTimeOffset MTime)> _directoryTimes = [];

    public TarApplier(string root, string what)
    {
        _root = Path.GetFullPath(root).TrimEnd('/');
        _what = what;
    }

    public void Apply(TarEntry entry)
    {
        var parts = SplitName(entry.Name, entry.Name);
        if (parts.Count == 0)
        {
            if (entry.EntryType == TarEntryType.Directory)
            {
                SetOwnerAndMode(_root, entry);
                _directoryTimes.Add((_root, entry.ModificationTime));
            }

            return;
        }

        var baseName = parts[^1];
        var parent = Resolve(parts.Take(parts.Count - 1), entry.Name, create: true);
        if (baseName.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(parent, baseName, entry);
            return;
        }

        var path = $"{parent}/{baseName}";
        try
        {
            Create(path, entry);
        }
        catch (IOException e)
        {
            throw new IOException($"entry '{entry.Name}': {e.Message}", e);
        }
    }

    /// <summary>Sets directory times last: creating children changes a directory's mtime.</summary>
    public void Finish()
    {
        for (var i = _directoryTimes.Count - 1; i >= 0; i--)
        {
            var (path, mtime) = _directoryTimes[i];
            SetTimes(path, mtime);
        }
    }

    private void Create(string path, TarEntry entry)
    {
        // Regular files are most entries: try the exclusive create first and look at what is there only when it fails.
        if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile
            && TryWriteFile(path, entry))
        {
            return;
        }

        var isDirectory = entry.EntryType == TarEntryType.Directory;
        if (NativeMethods.TryLStat(path, out var existing))
        {
            var existingIsDirectory = (existing.Mode & NativeMethods.SIfMt) == NativeMethods.SIfDir;
            if (!(isDirectory && existingIsDirectory))
            {
                RemoveExisting(path, existingIsDirectory);
            }
        }

        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                Directory.CreateDirectory(path);
                SetOwnerAndMode(path, entry);
                SetXattrs(path, entry);
                _directoryTimes.Add((path, entry.ModificationTime));
                return;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                if (!TryWriteFile(path, entry))
                {
                    throw new IOException($"create {path}: still exists after removal");
                }

                return;
            case TarEntryType.SymbolicLink:
                NativeMethods.Check(NativeMethods.Symlink(entry.LinkName, path), "symlink", path);
                NativeMethods.Check(NativeMethods.LChown(path, (uint)entry.Uid, (uint)entry.Gid), "lchown", path);
                SetXattrs(path, entry);
                SetTimes(path, entry.ModificationTime);
                return;
            case TarEntryType.HardLink:
                CreateHardLink(path, entry);
                return;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                MakeNode(path, entry);
                break;
            default:
                throw new ImageException(
                    ImageErrorKind.FailedPrecondition,
                    $"{_what}: entry '{entry.Name}' has unsupported tar type {entry.EntryType}");
        }

        SetOwnerAndMode(path, entry);
        SetXattrs(path, entry);
        SetTimes(path, entry.ModificationTime);
    }

    private void CreateHardLink(string path, TarEntry entry)
    {
        var target = SplitName(entry.LinkName, entry.Name);
        if (target.Count == 0)
        {
            throw Refuse(entry.Name, $"hard link to the layer root '{entry.LinkName}'");
        }

        var targetParent = Resolve(target.Take(target.Count - 1), entry.Name, create: false);
        var targetPath = $"{targetParent}/{target[^1]}";
        if (!NativeMethods.TryLStat(targetPath, out var st))
        {
            throw Refuse(entry.Name, $"hard link target '{entry.LinkName}' is not in this layer");
        }

        if ((st.Mode & NativeMethods.SIfMt) == NativeMethods.SIfDir)
        {
            throw Refuse(entry.Name, $"hard link target '{entry.LinkName}' is a directory");
        }

        NativeMethods.Check(NativeMethods.Link(targetPath, path), "link", path);
    }

    private static void MakeNode(string path, TarEntry entry)
    {
        var type = entry.EntryType switch
        {
            TarEntryType.CharacterDevice => NativeMethods.SIfChr,
            TarEntryType.BlockDevice => NativeMethods.SIfBlk,
            _ => NativeMethods.SIfIfo,
        };
        var dev = type != NativeMethods.SIfIfo && entry is PosixTarEntry posix
            ? NativeMethods.MakeDev((uint)posix.DeviceMajor, (uint)posix.DeviceMinor)
            : 0;
        NativeMethods.Check(NativeMethods.MkNod(path, type | ((uint)entry.Mode & 0xfff), dev), "mknod", path);
    }

    private void ApplyWhiteout(string parent, string baseName, TarEntry entry)
    {
        if (baseName == OpaqueMarker)
        {
            NativeMethods.Check(NativeMethods.LSetXattr(parent, "trusted.overlay.opaque", "y"u8, 1, 0), "setxattr opaque", parent);
            return;
        }

        if (baseName.StartsWith(WhiteoutMetaPrefix, StringComparison.Ordinal))
        {
            return; // aufs bookkeeping such as .wh..wh.plnk; nothing to do for overlayfs.
        }

        var name = baseName[WhiteoutPrefix.Length..];
        if (name.Length == 0 || name is "." or "..")
        {
            throw Refuse(entry.Name, "whiteout without a valid name");
        }

        var path = $"{parent}/{name}";
        if (NativeMethods.TryLStat(path, out var existing))
        {
            RemoveExisting(path, (existing.Mode & NativeMethods.SIfMt) == NativeMethods.SIfDir);
        }

        NativeMethods.Check(NativeMethods.MkNod(path, NativeMethods.SIfChr, 0), "mknod whiteout", path);
        NativeMethods.Check(NativeMethods.LChown(path, 0, 0), "lchown", path);
    }

    /// <summary>
    /// Resolves <paramref name="components"/> (no <c>..</c>, already checked) to a real directory inside the root,
    /// following symlinks only while they stay inside; missing directories are created when asked.
    /// </summary>
    private string Resolve(IEnumerable<string> components, string entryName, bool create)
    {
        var resolved = new List<string>();
        var pending = new LinkedList<string>(components);
        var hops = 0;
        while (pending.First is { } first)
        {
            var component = first.Value;
            pending.RemoveFirst();
            if (component is "" or ".")
            {
                continue;
            }

            if (component == "..")
            {
                // Only symlink targets bring ".." here; climbing above the root is an escape.
                if (resolved.Count == 0)
                {
                    throw Refuse(entryName, "writes through a symlink whose target climbs above the layer root");
                }

                resolved.RemoveAt(resolved.Count - 1);
                continue;
            }

            var path = Join(resolved, component);
            if (!NativeMethods.TryLStat(path, out var st))
            {
                if (!create)
                {
                    throw Refuse(entryName, $"refers to '{Relative(path)}', which is not in this layer");
                }

                Directory.CreateDirectory(path);
                resolved.Add(component);
                continue;
            }

            var type = st.Mode & NativeMethods.SIfMt;
            if (type == NativeMethods.SIfDir)
            {
                resolved.Add(component);
            }
            else if (type == NativeMethods.SIfLnk)
            {
                var target = new FileInfo(path).LinkTarget ?? "";
                if (target.StartsWith('/') || ++hops > MaxSymlinkHops)
                {
                    throw Refuse(entryName, $"writes through symlink '{Relative(path)}' -> '{target}', which points outside the layer");
                }

                var link = target.Split('/');
                for (var i = link.Length - 1; i >= 0; i--)
                {
                    pending.AddFirst(link[i]);
                }

                // A relative target climbing above the root is caught by the ".." case above.
            }
            else
            {
                throw Refuse(entryName, $"parent '{Relative(path)}' is not a directory");
            }
        }

        return Join(resolved, null);
    }

    private List<string> SplitName(string name, string entryName)
    {
        if (name.StartsWith('/'))
        {
            throw Refuse(entryName, $"absolute path '{name}'");
        }

        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw Refuse(entryName, $"path '{name}' contains '..'");
            }

            if (part.Contains('\0', StringComparison.Ordinal))
            {
                throw Refuse(entryName, "path contains a NUL byte");
            }

            parts.Add(part);
        }

        return parts;
    }

    private static void RemoveExisting(string path, bool isDirectory)
    {
        if (isDirectory)
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }

    private string Join(List<string> resolved, string? last)
    {
        var sb = new StringBuilder(_root);
        foreach (var part in resolved)
        {
            sb.Append('/').Append(part);
        }

        if (last is not null)
        {
            sb.Append('/').Append(last);
        }

        return sb.ToString();
    }

    private string Relative(string path) => path.Length > _root.Length ? path[(_root.Length + 1)..] : ".";

    private ImageException Refuse(string entryName, string why) =>
        new(ImageErrorKind.FailedPrecondition, $"{_what}: refusing entry '{entryName}': {why}");
}
