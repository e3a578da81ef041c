namespace LightVM.Images;

/// <summary>
/// The <c>[images]</c> section of the daemon's TOML config. Keys are the snake_case of the property names.
/// </summary>
/// <example>
/// <code>
/// [images]
/// max_concurrent_downloads = 3
/// pinned = ["registry.k8s.io/pause:3.10"]
///
/// [images.registries."docker.io"]
/// mirrors = ["http://127.0.0.1:5000"]
///
/// [images.registries."registry.k8s.io"]
/// mirrors = ["http://127.0.0.1:5000"]
///
/// [images.registries."gcr.io"]
/// mirrors = ["http://127.0.0.1:5000"]
///
/// [images.registries."registry.example.com"]
/// username = "puller"
/// password = "secret"
/// </code>
/// </example>
public sealed class ImagesOptions
{
    /// <summary>Directory of the content store and snapshots; empty means the daemon uses &lt;state root&gt;/images.</summary>
    public string Root { get; set; } = "";

    /// <summary>How many blobs one daemon downloads at once, over all pulls.</summary>
    public int MaxConcurrentDownloads { get; set; } = 3;

    /// <summary>How many times a transient registry failure (connection lost, 5xx, 429) is retried per request.</summary>
    public int PullRetries { get; set; } = 3;

    /// <summary>Delay before the first retry; each further retry waits twice as long.</summary>
    public int RetryDelayMilliseconds { get; set; } = 500;

    /// <summary>Time without any bytes from the registry after which a request is abandoned (and retried).</summary>
    public int RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>How often pull progress is logged for a layer that is still downloading.</summary>
    public int ProgressIntervalSeconds { get; set; } = 5;

    /// <summary>Image references reported as pinned (never garbage collected by kubelet).</summary>
    public List<string> Pinned { get; set; } = [];

    /// <summary>Per-registry settings keyed by registry host as it appears in image names (e.g. <c>docker.io</c>).</summary>
    public Dictionary<string, RegistryHostOptions> Registries { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Returns one message per problem, each starting with its full key under <paramref name="prefix"/>.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (MaxConcurrentDownloads is < 1 or > 64)
        {
            yield return $"{prefix}.max_concurrent_downloads: must be between 1 and 64, got {MaxConcurrentDownloads}";
        }

        if (PullRetries is < 0 or > 20)
        {
            yield return $"{prefix}.pull_retries: must be between 0 and 20, got {PullRetries}";
        }

        if (RetryDelayMilliseconds is < 0 or > 60_000)
        {
            yield return $"{prefix}.retry_delay_milliseconds: must be between 0 and 60000, got {RetryDelayMilliseconds}";
        }

        if (RequestTimeoutSeconds is < 1 or > 3600)
        {
            yield return $"{prefix}.request_timeout_seconds: must be between 1 and 3600, got {RequestTimeoutSeconds}";
        }

        if (ProgressIntervalSeconds is < 1 or > 3600)
        {
            yield return $"{prefix}.progress_interval_seconds: must be between 1 and 3600, got {ProgressIntervalSeconds}";
        }

        if (Root.Length > 0 && !Path.IsPathFullyQualified(Root))
        {
            yield return $"{prefix}.root: must be an absolute path, got '{Root}'";
        }

        for (var i = 0; i < Pinned.Count; i++)
        {
            if (!ImageReference.TryParse(Pinned[i], out _, out var error))
            {
                yield return $"{prefix}.pinned[{i}]: {error}";
            }
        }

        foreach (var (host, registry) in Registries)
        {
            var key = $"{prefix}.registries.\"{host}\"";
            if (!ImageReference.IsValidDomain(host))
            {
                yield return $"{key}: not a registry host name (host[:port])";
            }

            foreach (var message in (registry ?? new RegistryHostOptions()).Validate(key))
            {
                yield return message;
            }
        }
    }
}

/// <summary>Settings for one registry host: where to pull from and how to log in.</summary>
public sealed class RegistryHostOptions
{
    /// <summary>Endpoints (<c>http(s)://host[:port]</c>) tried in order before the upstream; images keep their names.</summary>
    public List<string> Mirrors { get; set; } = [];

    /// <summary>Allow plain HTTP and TLS without certificate verification for the upstream host and its mirrors.</summary>
    public bool Insecure { get; set; }

    /// <summary>User for basic auth or for getting a bearer token.</summary>
    public string Username { get; set; } = "";

    /// <summary>Password matching <see cref="Username"/>.</summary>
    public string Password { get; set; } = "";

    /// <summary>An OAuth2 refresh token traded for bearer tokens (what <c>docker login</c> stores for some registries).</summary>
    public string IdentityToken { get; set; } = "";

    /// <summary>Returns one message per problem, each starting with its full key under <paramref name="prefix"/>.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        for (var i = 0; i < Mirrors.Count; i++)
        {
            if (!Uri.TryCreate(Mirrors[i], UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || uri.Host.Length == 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
            {
                yield return $"{prefix}.mirrors[{i}]: not an absolute http(s) URL without query or credentials: '{Mirrors[i]}'";
            }
        }

        if (Password.Length > 0 && Username.Length == 0)
        {
            yield return $"{prefix}.password: set without a username";
        }

        if (Username.Length > 0 && Password.Length == 0)
        {
            yield return $"{prefix}.username: set without a password";
        }
    }
}
