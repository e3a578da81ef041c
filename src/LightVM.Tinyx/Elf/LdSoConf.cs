using System.Text.RegularExpressions;

namespace LightVM.Tinyx.Elf;

/// <summary>
/// Reads /etc/ld.so.conf the way ldconfig does (comments, "include" globs, several directories a line) to get the
/// directories whose libraries end up in ld.so.cache, in order. The cache itself is not read: its format is private
/// to glibc, and the directories it was built from give the same answer for the libraries that matter here.
/// </summary>
public static class LdSoConf
{
    private const int MaxIncludeDepth = 16;

    public static IReadOnlyList<string> ReadDirectories(SysRoot root, string confPath)
    {
        var directories = new List<string>();
        Read(root, confPath, directories, 0);
        return directories.Distinct(StringComparer.Ordinal).ToList();
    }

    private static void Read(SysRoot root, string guestPath, List<string> directories, int depth)
    {
        if (depth > MaxIncludeDepth)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"ld.so.conf includes nest deeper than {MaxIncludeDepth} at '{guestPath}'");
        }

        var resolved = root.Resolve(guestPath);
        if (resolved is null || !File.Exists(resolved.Value.HostPath))
        {
            return;
        }

        foreach (var rawLine in File.ReadLines(resolved.Value.HostPath))
        {
            var hash = rawLine.IndexOf('#', StringComparison.Ordinal);
            var line = (hash >= 0 ? rawLine[..hash] : rawLine).Trim();
            if (line.Length == 0 || line.StartsWith("hwcap ", StringComparison.Ordinal))
            {
                continue;
            }

            if (line.StartsWith("include", StringComparison.Ordinal) && line.Length > 7 && char.IsWhiteSpace(line[7]))
            {
                foreach (var pattern in line[8..].Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    var absolute = GuestPath.Combine(GuestPath.Directory(guestPath), pattern);
                    foreach (var included in Glob(root, absolute))
                    {
                        Read(root, included, directories, depth + 1);
                    }
                }

                continue;
            }

            foreach (var entry in line.Split((char[])[' ', '\t', ',', ':'], StringSplitOptions.RemoveEmptyEntries))
            {
                // "dir=libc5" style type suffixes are obsolete but still accepted by ldconfig.
                var equals = entry.IndexOf('=', StringComparison.Ordinal);
                var directory = equals >= 0 ? entry[..equals] : entry;
                if (directory.StartsWith('/'))
                {
                    directories.Add(GuestPath.Normalize(directory));
                }
            }
        }
    }

    /// <summary>Expands wildcards in the last component only, which is all ld.so.conf files use.</summary>
    private static IEnumerable<string> Glob(SysRoot root, string guestPattern)
    {
        var directory = GuestPath.Directory(guestPattern);
        var name = guestPattern[(guestPattern.LastIndexOf('/') + 1)..];
        if (name.IndexOfAny(['*', '?', '[']) < 0)
        {
            return [guestPattern];
        }

        var resolved = root.Resolve(directory);
        if (resolved is null || !Directory.Exists(resolved.Value.HostPath))
        {
            return [];
        }

        var regex = new Regex("^" + Regex.Escape(name).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant);
        return Directory.EnumerateFileSystemEntries(resolved.Value.HostPath)
            .Select(Path.GetFileName)
            .Where(n => n is not null && regex.IsMatch(n))
            .Order(StringComparer.Ordinal)
            .Select(n => GuestPath.Combine(directory, n!))
            .ToList();
    }
}
