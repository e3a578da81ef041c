namespace LightVM.State;

/// <summary>Where the daemon keeps what it owns. TOML section <c>[state]</c>.</summary>
public sealed class StateOptions
{
    /// <summary>Persistent state: the database, image store, pod directories. Survives reboots.</summary>
    public string Root { get; set; } = "/var/lib/lightvm";

    /// <summary>Runtime state: VM sockets and run directories. Lost on reboot, as the VMs are.</summary>
    public string RunRoot { get; set; } = "/run/lightvm";

    /// <summary>Path of the state database under <see cref="Root"/>.</summary>
    public string DatabasePath => Path.Combine(Root, "state.db");

    /// <summary>The lock file that keeps a second daemon off the same state.</summary>
    public string LockPath => Path.Combine(Root, "lightvm.lock");

    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (string.IsNullOrWhiteSpace(Root) || !Path.IsPathFullyQualified(Root))
        {
            yield return $"{prefix}.root: must be an absolute path, got \"{Root}\"";
        }

        if (string.IsNullOrWhiteSpace(RunRoot) || !Path.IsPathFullyQualified(RunRoot))
        {
            yield return $"{prefix}.run_root: must be an absolute path, got \"{RunRoot}\"";
        }
    }
}
