using LightVM.Runtime.Store;

namespace LightVM.Runtime.Pods;

/// <summary>What RunPodSandbox asks for, free of CRI types.</summary>
public sealed record PodSpec(
    string Name,
    string Namespace,
    string Uid,
    uint Attempt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    string LogDirectory,
    string Hostname,
    double? Cpus,
    long? MemoryBytes,
    PodDns? Dns = null);

/// <summary>What CreateContainer asks for.</summary>
public sealed record ContainerSpec(
    string Name,
    uint Attempt,
    string Image,
    IReadOnlyList<string> Command,
    IReadOnlyList<string> Args,
    string WorkingDir,
    IReadOnlyList<KeyValuePair<string, string>> Env,
    IReadOnlyList<MountSpec> Mounts,
    string LogPath,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    long? RunAsUser,
    long? RunAsGroup,
    ContainerResources? Resources = null,
    string? RunAsUsername = null,
    IReadOnlyList<long>? SupplementalGroups = null,
    bool ReadOnlyRootfs = false);

/// <summary>ListPodSandbox filter; null or empty parts match everything.</summary>
public sealed record PodFilter(string? Id, PodState? State, IReadOnlyDictionary<string, string>? Labels);

/// <summary>ListContainers filter.</summary>
public sealed record ContainerFilter(string? Id, string? PodId, ContainerState? State, IReadOnlyDictionary<string, string>? Labels);

/// <summary>ExecSync's answer.</summary>
public sealed record ExecResult(int ExitCode, byte[] Stdout, byte[] Stderr);

/// <summary>Runtime settings from the daemon's configuration.</summary>
public sealed record RuntimeSettings(string StateRoot, TimeSpan VmStopTimeout);
