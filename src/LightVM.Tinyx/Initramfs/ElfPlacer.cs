using LightVM.Tinyx.Elf;
using LightVM.Tinyx.Native;

namespace LightVM.Tinyx.Initramfs;

/// <summary>
/// Puts an ELF program and its library closure into the archive. Each dependency goes at the path the loader will
/// open; when that path's last component is a symlink in the sysroot (a soname link such as libfoo.so.1 ->
/// libfoo.so.1.2) the link is kept and its target placed too. Directory symlinks of the host (merged /usr) are not
/// copied: the archive gets real directories, which the loader walks the same way and which cannot clash with a
/// baked rootfs that lays its directories out differently.
/// </summary>
internal sealed class ElfPlacer
{
    private const int MaxLinkDepth = 40;
    private readonly ArchiveTree _tree;
    private readonly SharedLibraryResolver _resolver;
    private readonly SysRoot _root;

    public ElfPlacer(ArchiveTree tree, LibrarySearchOptions search)
    {
        _tree = tree;
        _resolver = new SharedLibraryResolver(search);
        _root = search.Root;
    }

    /// <summary>Places the program at <paramref name="destination"/> and its closure; returns the closure.</summary>
    public ElfClosure Place(string source, string destination, string origin, uint? permissions = null)
    {
        var closure = _resolver.Resolve(source, destination);
        AddRegularFile(source, destination, origin, permissions);
        foreach (var dependency in closure.Dependencies)
        {
            var dependencyOrigin = $"closure of {destination}";
            if (dependency.Relocated)
            {
                AddRegularFile(dependency.HostPath, dependency.GuestPath, dependencyOrigin, null);
            }
            else
            {
                PlaceFromSysRoot(dependency.GuestPath, dependencyOrigin, 0);
            }
        }

        return closure;
    }

    private void PlaceFromSysRoot(string guestPath, string origin, int depth)
    {
        if (depth > MaxLinkDepth)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"too many levels of symbolic links placing '{guestPath}'");
        }

        var parent = _root.Resolve(GuestPath.Directory(guestPath))
            ?? throw new TinyxException(TinyxErrorKind.NotFound, $"directory of '{guestPath}' vanished from {_root.HostDirectory}");
        var name = guestPath[(guestPath.LastIndexOf('/') + 1)..];
        var host = Path.Combine(parent.HostPath, name);
        var status = UnixFileStatus.Get(host);
        if (status.Type == UnixFileType.SymbolicLink)
        {
            var target = new FileInfo(host).LinkTarget!;
            _tree.Add(new ArchiveEntry(guestPath, ArchiveEntryType.Symlink, 0x1FF, 0, 0, origin, LinkTarget: target));
            PlaceFromSysRoot(GuestPath.Combine(GuestPath.Directory(guestPath), target), origin, depth + 1);
            return;
        }

        AddRegularFile(host, guestPath, origin, null);
    }

    /// <summary>Adds the content of a host file (symlinks followed) as a regular file owned by root, mode kept.</summary>
    public void AddRegularFile(string hostPath, string guestPath, string origin, uint? permissions)
    {
        var real = File.Exists(hostPath)
            ? new FileInfo(hostPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(hostPath)
            : throw new TinyxException(TinyxErrorKind.NotFound, $"file '{hostPath}' ({origin}) does not exist");
        var status = UnixFileStatus.Get(real);
        if (status.Type != UnixFileType.RegularFile)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{hostPath}' ({origin}) is not a regular file");
        }

        _tree.Add(new ArchiveEntry(guestPath, ArchiveEntryType.File, permissions ?? status.Permissions, 0, 0, origin, real, Size: status.Size));
    }
}
