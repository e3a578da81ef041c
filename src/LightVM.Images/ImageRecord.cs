namespace LightVM.Images;

/// <summary>
/// An image known to the daemon, stored in the <c>images</c> collection keyed by <see cref="Id"/>. Immutable: changes
/// produce a new value through the store's update.
/// </summary>
public sealed record ImageRecord
{
    /// <summary><c>sha256:</c> plus the config digest's hex; what CRI calls the image ref.</summary>
    public required string Id { get; init; }

    /// <summary>Names with tags, containerd style: <c>docker.io/library/busybox:latest</c>.</summary>
    public IReadOnlyList<string> RepoTags { get; init; } = [];

    /// <summary>Names with manifest digests: <c>docker.io/library/busybox@sha256:…</c>.</summary>
    public IReadOnlyList<string> RepoDigests { get; init; } = [];

    /// <summary>Compressed layer bytes plus the config, as containerd reports an image's size.</summary>
    public long Size { get; init; }

    /// <summary>The layers, bottom first.</summary>
    public IReadOnlyList<ImageLayer> Layers { get; init; } = [];

    /// <summary>Digest of the config blob.</summary>
    public required string ConfigDigest { get; init; }

    /// <summary>Every blob this image holds in the content store (indexes, manifests, config, layers).</summary>
    public IReadOnlyList<string> Blobs { get; init; } = [];

    /// <summary>The runtime-relevant part of the config.</summary>
    public ImageConfig Config { get; init; } = new();

    /// <summary>True when one of the image's names is listed in <see cref="ImagesOptions.Pinned"/>; computed on read.</summary>
    public bool Pinned { get; init; }

    /// <summary>When this image was first pulled.</summary>
    public DateTimeOffset PulledAt { get; init; }

    /// <summary>Chain ids of the layers, bottom first; the last one names the whole rootfs.</summary>
    public IEnumerable<string> ChainIds => Layers.Select(l => l.ChainId);

    /// <summary>The uid from the config's User when it is numeric (<c>1000</c>, <c>1000:1000</c>), else null.</summary>
    public long? Uid => ParseUser(Config.User).Uid;

    /// <summary>The user name from the config's User when it is not numeric, else empty.</summary>
    public string Username => ParseUser(Config.User).Name;

    private static (long? Uid, string Name) ParseUser(string user)
    {
        var name = user.Split(':', 2)[0];
        if (name.Length == 0)
        {
            return (null, "");
        }

        return long.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var uid)
            ? (uid, "")
            : (null, name);
    }
}

/// <summary>One layer: its blob, its uncompressed digest and the chain id naming its snapshot.</summary>
public sealed record ImageLayer(string Digest, string MediaType, long Size, string DiffId, string ChainId);

/// <summary>The image config fields the runtime uses to build a container's process.</summary>
public sealed record ImageConfig
{
    public string User { get; init; } = "";

    public IReadOnlyList<string> Env { get; init; } = [];

    public IReadOnlyList<string> Entrypoint { get; init; } = [];

    public IReadOnlyList<string> Cmd { get; init; } = [];

    public string WorkingDir { get; init; } = "";

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    public string StopSignal { get; init; } = "";

    public IReadOnlyList<string> ExposedPorts { get; init; } = [];

    public IReadOnlyList<string> Volumes { get; init; } = [];

    public string Architecture { get; init; } = "";

    public string Os { get; init; } = "";

    public DateTimeOffset? Created { get; init; }
}

/// <summary>What the image store uses on its filesystem.</summary>
/// <param name="MountPoint">Mount point of the filesystem holding the store.</param>
/// <param name="UsedBytes">Bytes allocated to the store's files (hard links counted once).</param>
/// <param name="InodesUsed">Inodes used by the store.</param>
/// <param name="Timestamp">When this was measured.</param>
public sealed record ImageFsUsage(string MountPoint, long UsedBytes, long InodesUsed, DateTimeOffset Timestamp);

/// <summary>Credentials for one pull, from the CRI <c>AuthConfig</c>; any field may be empty.</summary>
public sealed record RegistryAuth
{
    public string Username { get; init; } = "";

    public string Password { get; init; } = "";

    /// <summary>Base64 of <c>user:password</c>, used when <see cref="Username"/> is empty.</summary>
    public string Auth { get; init; } = "";

    /// <summary>An OAuth2 refresh token traded at the registry's token server for bearer tokens.</summary>
    public string IdentityToken { get; init; } = "";

    /// <summary>A bearer token sent to the registry as is.</summary>
    public string RegistryToken { get; init; } = "";

    /// <summary>True when no field carries a credential.</summary>
    public bool IsEmpty => Username.Length == 0 && Password.Length == 0 && Auth.Length == 0
                           && IdentityToken.Length == 0 && RegistryToken.Length == 0;
}
