using LightVM.Tinyx.Native;

namespace LightVM.Tinyx.Elf;

/// <summary>
/// A directory tree seen as a guest's "/": guest paths resolve inside it, absolute symlink targets included,
/// so resolving an image's rootfs never escapes to the host's own files.
/// </summary>
public sealed class SysRoot
{
    private const int MaxSymlinkHops = 40;

    public SysRoot(string hostDirectory)
    {
        if (!Path.IsPathRooted(hostDirectory))
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"sysroot '{hostDirectory}' must be an absolute path");
        }

        HostDirectory = Path.TrimEndingDirectorySeparator(Path.GetFullPath(hostDirectory));
        if (HostDirectory.Length == 0)
        {
            HostDirectory = "/";
        }
    }

    public static SysRoot Host { get; } = new("/");

    public string HostDirectory { get; }

    public bool IsHost => HostDirectory == "/";

    /// <summary>The host path of a guest path, without resolving anything.</summary>
    public string ToHost(string guestPath) => IsHost ? guestPath : HostDirectory + GuestPath.Normalize(guestPath);

    /// <summary>
    /// Follows every symlink of a guest path inside the sysroot; returns the real guest path and its host path,
    /// or null when some component does not exist.
    /// </summary>
    public (string GuestPath, string HostPath)? Resolve(string guestPath)
    {
        var pending = new Stack<string>(GuestPath.Split(guestPath).Reverse());
        var current = new List<string>();
        var hops = 0;
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (name == "..")
            {
                if (current.Count > 0)
                {
                    current.RemoveAt(current.Count - 1);
                }

                continue;
            }

            var candidate = "/" + string.Join('/', current.Append(name));
            if (!UnixFileStatus.TryGet(ToHost(candidate), out var status))
            {
                return null;
            }

            if (status.Type == UnixFileType.SymbolicLink)
            {
                if (++hops > MaxSymlinkHops)
                {
                    throw new TinyxException(TinyxErrorKind.InvalidArgument, $"too many levels of symbolic links resolving '{guestPath}' in {HostDirectory}");
                }

                var target = new FileInfo(ToHost(candidate)).LinkTarget ?? string.Empty;
                if (target.StartsWith('/'))
                {
                    current.Clear();
                }

                foreach (var part in GuestPath.Split(target).Reverse())
                {
                    pending.Push(part);
                }

                continue;
            }

            if (pending.Count > 0 && status.Type != UnixFileType.Directory)
            {
                return null;
            }

            current.Add(name);
        }

        var real = "/" + string.Join('/', current);
        return (real, ToHost(real));
    }
}

/// <summary>Lexical helpers for absolute, '/'-separated guest paths.</summary>
public static class GuestPath
{
    /// <summary>Components without empty and "." parts; ".." is kept for the caller to apply.</summary>
    public static IEnumerable<string> Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");

    /// <summary>"/a/./b/../c/" becomes "/a/c"; ".." above the root stays at the root.</summary>
    public static string Normalize(string path)
    {
        var parts = new List<string>();
        foreach (var part in Split(path))
        {
            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else
            {
                parts.Add(part);
            }
        }

        return "/" + string.Join('/', parts);
    }

    public static string Directory(string path)
    {
        var normalized = Normalize(path);
        var slash = normalized.LastIndexOf('/');
        return slash <= 0 ? "/" : normalized[..slash];
    }

    public static string Combine(string directory, string relative) =>
        relative.StartsWith('/') ? Normalize(relative) : Normalize(directory + "/" + relative);
}
