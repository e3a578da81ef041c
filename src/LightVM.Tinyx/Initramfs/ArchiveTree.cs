using System.Security.Cryptography;
using LightVM.Tinyx.Elf;

namespace LightVM.Tinyx.Initramfs;

/// <summary>
/// The set of entries going into an initramfs, keyed by guest path. Adding an entry creates its missing parent
/// directories and follows symlinks already in the tree for the parent part of the path (so a file added under
/// "/lib/..." lands under "/usr/lib/..." when the tree's /lib is a symlink to usr/lib, as the kernel's unpacker
/// would do). Adding the same thing twice is fine; adding something different at a taken path fails naming both.
/// </summary>
public sealed class ArchiveTree
{
    private readonly Dictionary<string, ArchiveEntry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public bool TryGet(string path, out ArchiveEntry entry) => _entries.TryGetValue(GuestPath.Normalize(path), out entry!);

    /// <summary>Entries sorted by path (ordinal), so parents precede children and the output is deterministic.</summary>
    public IReadOnlyList<ArchiveEntry> Sorted() => _entries.Values.OrderBy(e => e.Path, StringComparer.Ordinal).ToList();

    /// <summary>Adds the entry (at its canonical path) and returns the path used.</summary>
    public string Add(ArchiveEntry entry)
    {
        var path = Canonicalize(entry.Path);
        if (path == "/")
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{entry.Path}' from {entry.Origin} names the archive root");
        }

        EnsureParents(path, entry.Origin);
        entry = entry with { Path = path };
        if (!_entries.TryGetValue(path, out var existing))
        {
            _entries[path] = entry;
            return path;
        }

        if (existing.Type == ArchiveEntryType.Directory && entry.Type == ArchiveEntryType.Directory)
        {
            if (entry.Implicit || (!existing.Implicit && SameAttributes(existing, entry)))
            {
                return path;
            }

            if (existing.Implicit)
            {
                _entries[path] = entry;
                return path;
            }
        }
        else if (SameAttributes(existing, entry) && SameContent(existing, entry))
        {
            return path;
        }

        throw new TinyxException(
            TinyxErrorKind.AlreadyExists,
            $"'{path}' from {entry.Origin} ({Describe(entry)}) conflicts with the one from {existing.Origin} ({Describe(existing)})");
    }

    /// <summary>Adds the entry only when nothing is at its path yet (defaults such as /dev/console).</summary>
    public void AddIfAbsent(ArchiveEntry entry)
    {
        if (!_entries.ContainsKey(Canonicalize(entry.Path)))
        {
            Add(entry);
        }
    }

    /// <summary>Resolves the directory part of a path through symlinks already in the tree; the last component is kept.</summary>
    public string Canonicalize(string path) =>
        GuestPath.Walk(
            GuestPath.Normalize(path),
            (candidate, hasMore) => hasMore && _entries.TryGetValue(candidate, out var entry) && entry.Type == ArchiveEntryType.Symlink
                ? GuestPath.WalkStep.Link(entry.LinkTarget!)
                : GuestPath.WalkStep.Plain,
            () => $"too many levels of symbolic links in the archive resolving '{path}'")!;

    private void EnsureParents(string path, string origin)
    {
        var parent = GuestPath.Directory(path);
        var missing = new Stack<string>();
        while (parent != "/")
        {
            if (_entries.TryGetValue(parent, out var existing))
            {
                if (existing.Type != ArchiveEntryType.Directory)
                {
                    throw new TinyxException(TinyxErrorKind.AlreadyExists, $"'{path}' from {origin} needs '{parent}' to be a directory, but it is a {Describe(existing)} from {existing.Origin}");
                }

                break;
            }

            missing.Push(parent);
            parent = GuestPath.Directory(parent);
        }

        while (missing.Count > 0)
        {
            var directory = missing.Pop();
            _entries[directory] = ArchiveEntry.ImplicitDirectory(directory);
        }
    }

    private static bool SameAttributes(ArchiveEntry a, ArchiveEntry b) =>
        a.Type == b.Type && a.Permissions == b.Permissions && a.Uid == b.Uid && a.Gid == b.Gid
        && a.LinkTarget == b.LinkTarget && a.RdevMajor == b.RdevMajor && a.RdevMinor == b.RdevMinor;

    private static bool SameContent(ArchiveEntry a, ArchiveEntry b)
    {
        if (a.Type != ArchiveEntryType.File || a.SourcePath == b.SourcePath)
        {
            return true;
        }

        return a.Size == b.Size && HashFile(a.SourcePath!).AsSpan().SequenceEqual(HashFile(b.SourcePath!));
    }

    private static byte[] HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }

    private static string Describe(ArchiveEntry e) => e.Type switch
    {
        ArchiveEntryType.Symlink => $"symlink to {e.LinkTarget}",
        ArchiveEntryType.File => $"file {e.SourcePath}, mode {Convert.ToString(e.Permissions, 8)}",
        _ => $"{e.Type.ToString().ToLowerInvariant()}, mode {Convert.ToString(e.Permissions, 8)}",
    };
}
