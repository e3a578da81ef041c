using LightVM.Tinyx.Native;

namespace LightVM.Tinyx.Elf;

/// <summary>
/// A directory tree seen as a guest's "/": guest paths resolve inside it, absolute symlink targets included,
/// so resolving an image's rootfs never escapes to the host's own files.
/// </summary>
public sealed class SysRoot
{

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
        var real = GuestPath.Walk(guestPath, (candidate, hasMore) =>
        {
            if (!UnixFileStatus.TryGet(ToHost(candidate), out var status))
            {
                return GuestPath.WalkStep.Missing;
            }

            if (status.Type == UnixFileType.SymbolicLink)
            {
                return GuestPath.WalkStep.Link(new FileInfo(ToHost(candidate)).LinkTarget ?? string.Empty);
            }

            return hasMore && status.Type != UnixFileType.Directory ? GuestPath.WalkStep.Missing : GuestPath.WalkStep.Plain;
        }, () => $"too many levels of symbolic links resolving '{guestPath}' in {HostDirectory}");
        return real is null ? null : (real, ToHost(real));
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

    /// <summary>Most symlinks followed in one walk, as the kernel's limit.</summary>
    public const int MaxSymlinkHops = 40;

    /// <summary>
    /// Walks an absolute path one component at a time the way the kernel resolves it: ".." pops, a symlink's target
    /// is spliced in (an absolute one restarts at the root). <paramref name="inspect"/> says what is at each
    /// candidate path (and whether more components follow); the walk's real path, or null when something is missing.
    /// </summary>
    /// <exception cref="TinyxException">More than <see cref="MaxSymlinkHops"/> links, with <paramref name="loopMessage"/>.</exception>
    public static string? Walk(string path, Func<string, bool, WalkStep> inspect, Func<string> loopMessage)
    {
        var pending = new Stack<string>(Split(path).Reverse());
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

            var step = inspect("/" + string.Join('/', current.Append(name)), pending.Count > 0);
            if (step.IsMissing)
            {
                return null;
            }

            if (step.LinkTarget is { } target)
            {
                if (++hops > MaxSymlinkHops)
                {
                    throw new TinyxException(TinyxErrorKind.InvalidArgument, loopMessage());
                }

                if (target.StartsWith('/'))
                {
                    current.Clear();
                }

                foreach (var part in Split(target).Reverse())
                {
                    pending.Push(part);
                }

                continue;
            }

            current.Add(name);
        }

        return "/" + string.Join('/', current);
    }

    /// <summary>What <see cref="Walk"/> found at one component.</summary>
    public readonly record struct WalkStep(bool IsMissing, string? LinkTarget)
    {
        public static WalkStep Plain => default;

        public static WalkStep Missing => new(true, null);

        public static WalkStep Link(string target) => new(false, target);
    }
}
