using LightVM.Tinyx.Native;

namespace LightVM.Tinyx.Initramfs;

/// <summary>Adds a whole directory tree to the archive as it is on disk: types, modes, owners, device numbers.</summary>
internal static class RootfsScanner
{
    public static void AddTo(ArchiveTree tree, string rootfs, CancellationToken cancellationToken)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootfs));
        if (!UnixFileStatus.TryGet(root, out var rootStatus) || rootStatus.Type != UnixFileType.Directory)
        {
            throw new TinyxException(TinyxErrorKind.NotFound, $"rootfs '{rootfs}' is not a directory");
        }

        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var directory = pending.Pop();
            foreach (var hostPath in Directory.EnumerateFileSystemEntries(directory))
            {
                var status = UnixFileStatus.Get(hostPath);
                var guestPath = hostPath[root.Length..];
                var entry = ToEntry(hostPath, guestPath, status);
                if (entry is null)
                {
                    continue;
                }

                tree.Add(entry);
                if (status.Type == UnixFileType.Directory)
                {
                    pending.Push(hostPath);
                }
            }
        }
    }

    private static ArchiveEntry? ToEntry(string hostPath, string guestPath, UnixFileStatus s)
    {
        const string Origin = "rootfs";
        return s.Type switch
        {
            UnixFileType.Directory => new ArchiveEntry(guestPath, ArchiveEntryType.Directory, s.Permissions, s.Uid, s.Gid, Origin),
            UnixFileType.RegularFile => new ArchiveEntry(guestPath, ArchiveEntryType.File, s.Permissions, s.Uid, s.Gid, Origin, hostPath, Size: s.Size),
            UnixFileType.SymbolicLink => new ArchiveEntry(guestPath, ArchiveEntryType.Symlink, 0x1FF, s.Uid, s.Gid, Origin, LinkTarget: new FileInfo(hostPath).LinkTarget),
            UnixFileType.CharacterDevice => new ArchiveEntry(guestPath, ArchiveEntryType.CharacterDevice, s.Permissions, s.Uid, s.Gid, Origin, RdevMajor: s.RdevMajor, RdevMinor: s.RdevMinor),
            UnixFileType.BlockDevice => new ArchiveEntry(guestPath, ArchiveEntryType.BlockDevice, s.Permissions, s.Uid, s.Gid, Origin, RdevMajor: s.RdevMajor, RdevMinor: s.RdevMinor),
            UnixFileType.Fifo => new ArchiveEntry(guestPath, ArchiveEntryType.Fifo, s.Permissions, s.Uid, s.Gid, Origin),

            // A socket in an image is a leftover of a process that ran during the build; it means nothing at boot.
            _ => null,
        };
    }
}
