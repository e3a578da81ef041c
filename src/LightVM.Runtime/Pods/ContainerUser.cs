using System.Globalization;

namespace LightVM.Runtime.Pods;

/// <summary>The identity a container's first process runs with.</summary>
public sealed record ProcessIdentity(uint Uid, uint Gid, IReadOnlyList<uint> AdditionalGids);

/// <summary>
/// containerd's rules for who a container runs as: run_as_user or run_as_username from the security context (with
/// run_as_group replacing the primary group), else the image's User (<c>name</c>, <c>uid</c>, <c>name:group</c>,
/// <c>uid:gid</c>); names and primary groups come from the container's own /etc/passwd and /etc/group; additional
/// groups are the /etc/group entries listing the user, plus supplemental_groups.
/// </summary>
internal static class ContainerUser
{
    /// <param name="readFile">Reads a file of the container's rootfs by absolute path; null when missing.</param>
    public static ProcessIdentity Resolve(
        long? runAsUser, string? runAsUsername, long? runAsGroup, string imageUser, IReadOnlyList<long> supplementalGroups,
        Func<string, string?> readFile)
    {
        if (runAsUser is not null && !string.IsNullOrEmpty(runAsUsername))
        {
            throw Invalid("run_as_user and run_as_username are both set; give one");
        }

        if (runAsGroup is not null && runAsUser is null && string.IsNullOrEmpty(runAsUsername))
        {
            throw Invalid("run_as_group needs run_as_user or run_as_username");
        }

        var passwd = new Lazy<IReadOnlyList<string[]>>(() => Parse(readFile("/etc/passwd"), 7));
        var groups = new Lazy<IReadOnlyList<string[]>>(() => Parse(readFile("/etc/group"), 4));
        string user, group;
        if (runAsUser is not null || !string.IsNullOrEmpty(runAsUsername))
        {
            user = runAsUser is { } uid ? Id(uid, "run_as_user") : runAsUsername!;
            group = runAsGroup is { } gid ? Id(gid, "run_as_group") : string.Empty;
        }
        else
        {
            var parts = imageUser.Split(':', 2);
            user = parts[0];
            group = parts.Length > 1 ? parts[1] : string.Empty;
        }

        uint resolvedUid = 0, resolvedGid = 0;
        var name = string.Empty;
        if (user.Length > 0)
        {
            var entry = passwd.Value.FirstOrDefault(e => IsNumber(user) ? e[2] == user : e[0] == user);
            if (entry is null && !IsNumber(user))
            {
                throw Invalid($"user \"{user}\" is not in the image's /etc/passwd");
            }

            resolvedUid = entry is null ? ParseId(user) : ParseId(entry[2]);
            resolvedGid = entry is null ? 0 : ParseId(entry[3]);
            name = entry?[0] ?? string.Empty;
        }

        if (group.Length > 0)
        {
            if (IsNumber(group))
            {
                resolvedGid = ParseId(group);
            }
            else
            {
                var entry = groups.Value.FirstOrDefault(e => e[0] == group)
                    ?? throw Invalid($"group \"{group}\" is not in the image's /etc/group");
                resolvedGid = ParseId(entry[2]);
            }
        }

        var additional = new List<uint>();
        if (name.Length > 0)
        {
            additional.AddRange(groups.Value
                .Where(e => e[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Contains(name))
                .Select(e => ParseId(e[2])));
        }

        foreach (var gid in supplementalGroups)
        {
            additional.Add(uint.Parse(Id(gid, "supplemental_groups"), CultureInfo.InvariantCulture));
        }

        return new ProcessIdentity(resolvedUid, resolvedGid, additional.Distinct().ToList());
    }

    /// <summary>Lines of a colon-separated database with at least <paramref name="fields"/> fields and a numeric id.</summary>
    private static List<string[]> Parse(string? text, int fields) =>
        (text ?? string.Empty).Split('\n')
            .Select(line => line.TrimEnd('\r'))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split(':'))
            .Where(f => f.Length >= fields && IsNumber(f[2]) && (fields < 7 || IsNumber(f[3])))
            .Select(f => f.Length == fields ? f : f[..fields])
            .ToList();

    private static string Id(long id, string field) =>
        id is >= 0 and <= uint.MaxValue
            ? id.ToString(CultureInfo.InvariantCulture)
            : throw Invalid($"{field} {id} is not a valid id");

    private static bool IsNumber(string text) => text.Length > 0 && text.All(char.IsAsciiDigit);

    private static uint ParseId(string text) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
            ? id
            : throw Invalid($"id \"{text}\" is out of range");

    private static RuntimeException Invalid(string message) => new(RuntimeErrorKind.InvalidArgument, "container user: " + message);
}
