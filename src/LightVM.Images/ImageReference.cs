using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace LightVM.Images;

/// <summary>
/// A normalised image reference as containerd's CRI plugin spells it: <c>busybox</c> becomes
/// <c>docker.io/library/busybox:latest</c>; a reference with a digest keeps the digest (and drops any tag).
/// </summary>
public sealed partial record ImageReference
{
    /// <summary>The registry host Docker Hub images live under.</summary>
    public const string DockerHubDomain = "docker.io";

    private const int MaxNameLength = 255;

    private ImageReference(string domain, string path, string? tag, string? digest)
    {
        Domain = domain;
        Path = path;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>Registry host and optional port, as in the name (<c>docker.io</c>, <c>localhost:5000</c>).</summary>
    public string Domain { get; }

    /// <summary>Repository path inside the registry (<c>library/busybox</c>).</summary>
    public string Path { get; }

    /// <summary>The tag, or null when the reference is by digest.</summary>
    public string? Tag { get; }

    /// <summary>The manifest digest (<c>sha256:…</c>), or null when the reference is by tag.</summary>
    public string? Digest { get; }

    /// <summary>Domain and path: <c>docker.io/library/busybox</c>.</summary>
    public string Name => $"{Domain}/{Path}";

    /// <summary>The tag or digest as it goes into a manifest URL.</summary>
    public string Reference => Digest ?? Tag!;

    /// <summary>This name with <paramref name="digest"/> instead of a tag (a RepoDigest).</summary>
    public ImageReference WithDigest(string digest) => new(Domain, Path, null, digest);

    /// <summary>This name with <paramref name="tag"/> (a RepoTag).</summary>
    public ImageReference WithTag(string tag) => new(Domain, Path, tag, null);

    /// <inheritdoc/>
    public override string ToString() => Digest is not null ? $"{Name}@{Digest}" : $"{Name}:{Tag}";

    /// <summary>Parses and normalises <paramref name="text"/>.</summary>
    /// <exception cref="ImageException">Kind InvalidArgument, naming the reference and the problem.</exception>
    public static ImageReference Parse(string text) =>
        TryParse(text, out var reference, out var error)
            ? reference
            : throw new ImageException(ImageErrorKind.InvalidArgument, error);

    /// <summary>Parses and normalises <paramref name="text"/>; on failure <paramref name="error"/> says why.</summary>
    public static bool TryParse(
        string? text,
        [NotNullWhen(true)] out ImageReference? reference,
        [NotNullWhen(false)] out string? error)
    {
        reference = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "image reference is empty";
            return false;
        }

        var rest = text;
        string? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!IsValidDigest(digest))
            {
                error = $"invalid image reference '{text}': bad digest '{digest}' (want sha256:<64 hex>)";
                return false;
            }
        }

        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagRegex().IsMatch(tag))
            {
                error = $"invalid image reference '{text}': bad tag '{tag}'";
                return false;
            }
        }

        if (rest.Length == 0)
        {
            error = $"invalid image reference '{text}': no repository name";
            return false;
        }

        if (Is64Hex(rest) && tag is null && digest is null)
        {
            error = $"invalid image reference '{text}': a 64-hex name is an image id, not a repository";
            return false;
        }

        string domain;
        string path;
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : rest[..slash];
        if (slash < 0 || (!first.Contains('.', StringComparison.Ordinal) && !first.Contains(':', StringComparison.Ordinal)
                          && first != "localhost" && first.ToLowerInvariant() == first))
        {
            domain = DockerHubDomain;
            path = slash < 0 ? $"library/{rest}" : rest;
        }
        else
        {
            domain = first;
            path = rest[(slash + 1)..];
        }

        if (domain == "index.docker.io")
        {
            domain = DockerHubDomain;
        }

        if (domain == DockerHubDomain && !path.Contains('/', StringComparison.Ordinal))
        {
            path = $"library/{path}";
        }

        if (!IsValidDomain(domain))
        {
            error = $"invalid image reference '{text}': bad registry host '{domain}'";
            return false;
        }

        if (path.Any(char.IsUpper))
        {
            error = $"invalid image reference '{text}': repository name must be lowercase";
            return false;
        }

        if (!path.Split('/').All(c => PathComponentRegex().IsMatch(c)))
        {
            error = $"invalid image reference '{text}': bad repository path '{path}'";
            return false;
        }

        if (domain.Length + 1 + path.Length > MaxNameLength)
        {
            error = $"invalid image reference '{text}': name longer than {MaxNameLength} characters";
            return false;
        }

        // containerd keeps only the digest of name:tag@digest: the digest is what gets pulled.
        reference = new ImageReference(domain, path, digest is null ? tag ?? "latest" : null, digest);
        error = null;
        return true;
    }

    /// <summary>True for a registry host with optional port (<c>host</c>, <c>host:5000</c>, <c>[::1]:5000</c>).</summary>
    public static bool IsValidDomain(string domain) => DomainRegex().IsMatch(domain);

    /// <summary>True for <c>sha256:</c> followed by 64 lower-case hex digits, the only digest we accept.</summary>
    public static bool IsValidDigest(string digest) =>
        digest.StartsWith("sha256:", StringComparison.Ordinal) && Is64Hex(digest.AsSpan(7));

    private static bool Is64Hex(ReadOnlySpan<char> s)
    {
        if (s.Length != 64)
        {
            return false;
        }

        foreach (var c in s)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        return true;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex TagRegex();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex PathComponentRegex();

    [GeneratedRegex(
        @"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex DomainRegex();
}
