namespace LightVM.Cri.Configuration;

/// <summary>How the daemon serves CRI. TOML section <c>[cri]</c>.</summary>
public sealed class CriOptions
{
    /// <summary>The unix socket kubelet and crictl connect to.</summary>
    public string Listen { get; set; } = "/run/lightvm/lightvm.sock";

    /// <summary>Octal permission bits of the socket.</summary>
    public string SocketMode { get; set; } = "0660";

    /// <summary>Group (name or numeric id) that owns the socket; empty keeps root's group.</summary>
    public string SocketGroup { get; set; } = string.Empty;

    /// <summary>The cgroup driver reported to kubelet by the RuntimeConfig RPC.</summary>
    public CgroupDriverChoice CgroupDriver { get; set; } = CgroupDriverChoice.Auto;

    /// <summary>On SIGTERM, how long in-flight calls may take before the daemon stops anyway.</summary>
    public int ShutdownTimeoutSeconds { get; set; } = 30;

    internal IEnumerable<string> Validate(string prefix)
    {
        if (string.IsNullOrWhiteSpace(Listen) || !Path.IsPathFullyQualified(Listen))
        {
            yield return $"{prefix}.listen: must be an absolute path of a unix socket, got \"{Listen}\"";
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(Listen) > 107)
        {
            yield return $"{prefix}.listen: a unix socket path can be at most 107 bytes, \"{Listen}\" is longer";
        }

        if (ParseMode(SocketMode) is null)
        {
            yield return $"{prefix}.socket_mode: must be an octal permission such as \"0660\", got \"{SocketMode}\"";
        }

        if (ShutdownTimeoutSeconds is < 0 or > 3600)
        {
            yield return $"{prefix}.shutdown_timeout_seconds: must be between 0 and 3600, got {ShutdownTimeoutSeconds}";
        }
    }

    /// <summary>The socket mode as a <see cref="UnixFileMode"/>, or null when it is not a valid octal mode.</summary>
    internal static UnixFileMode? ParseMode(string text)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 4 || text.Any(c => c is < '0' or > '7'))
        {
            return null;
        }

        return (UnixFileMode)Convert.ToInt32(text, 8);
    }
}

/// <summary>Which cgroup driver the node uses; <c>auto</c> picks systemd when systemd is PID 1.</summary>
public enum CgroupDriverChoice
{
    Auto,
    Systemd,
    Cgroupfs,
}
