namespace LightVM.Toolstack;

/// <summary>
/// One prepared VM.
/// <code>
///   Running ──StopAsync/KillAsync──► Stopping ──► Exited (run directory removed)
///      │                                             ▲
///      └────── VMM or guest dies by itself ──────────┘ (Exited fires; StopAsync still cleans up)
/// </code>
/// </summary>
public interface IVm : IAsyncDisposable
{
    string Id { get; }

    VmShape Shape { get; }

    VmState State { get; }

    /// <summary>What the caller persists to find this VM again after a daemon restart.</summary>
    VmRecord Record { get; }

    /// <summary>Completes once the VMM is gone, with why.</summary>
    Task<VmExit> Exited { get; }

    /// <summary>A fresh byte stream to the guest agent. One at a time; dispose it to let the next one connect.</summary>
    Task<Stream> OpenAgentStreamAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Makes the host directory <paramref name="hostPath"/> visible to the guest as <paramref name="name"/> inside
    /// the VM's share (mount tag <see cref="VmShares.Tag"/>). Returns the path relative to the share root.
    /// </summary>
    Task<string> AttachShareAsync(string hostPath, string name, bool readOnly, CancellationToken cancellationToken);

    /// <summary>Removes a share; missing shares are fine.</summary>
    Task DetachShareAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// Stops the VMM, waiting up to <paramref name="timeout"/> before killing it, detaches every share and removes
    /// the run directory. Idempotent; also the cleanup after the VM died by itself.
    /// </summary>
    Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>Kills the VMM at once, then cleans up as <see cref="StopAsync"/>.</summary>
    Task KillAsync(CancellationToken cancellationToken);

    /// <summary>Facts for verbose status.</summary>
    VmInfo Describe();

    /// <summary>The last output of the guest console (kernel and agent messages), for error messages and logs.</summary>
    string ConsoleTail(int maxChars = 600);
}

public enum VmState
{
    Running,
    Stopping,
    Exited,
}

/// <summary>Why a VM ended, and when.</summary>
public sealed record VmExit(string Reason, DateTimeOffset At);

/// <summary>What verbose status shows about a VM.</summary>
public sealed record VmInfo(
    string Id,
    string Backend,
    VmShape Shape,
    int VmmPid,
    string Accel,
    DateTimeOffset PreparedAt,
    TimeSpan BootDuration,
    string RunDirectory,
    bool FromPool);

/// <summary>
/// The small record that lets a new daemon reattach to a running VM. The backend derives sockets and files from
/// <see cref="RunDirectory"/>; <see cref="VmmPid"/> is checked against it so a reused pid is not mistaken for ours.
/// </summary>
public sealed record VmRecord(
    string Id,
    string Backend,
    VmShape Shape,
    string RunDirectory,
    int VmmPid,
    string Accel,
    DateTimeOffset PreparedAt,
    TimeSpan BootDuration);

/// <summary>Facts about shares every backend honours.</summary>
public static class VmShares
{
    /// <summary>The 9p mount tag under which the guest finds the share root.</summary>
    public const string Tag = "lightvm.share";

    /// <summary>The name of the virtio-serial port that carries the agent channel.</summary>
    public const string AgentPort = "lightvm.agent";
}
