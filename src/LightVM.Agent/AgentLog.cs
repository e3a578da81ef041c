using Microsoft.Extensions.Logging;

namespace LightVM.Agent;

internal static partial class AgentLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information,
        Message = "lightvm-agent {Version} starting (pid {Pid}, instance {InstanceId}, channel {Channel}, guest {Guest})")]
    public static partial void Starting(ILogger logger, string version, int pid, string instanceId, string channel, bool guest);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Cannot become child subreaper ({Reason}); orphans go to init")]
    public static partial void SubreaperUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "waitpid failed: {Reason}")]
    public static partial void ReaperError(ILogger logger, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Guest mount of {Target} ({FsType}) failed: {Reason}")]
    public static partial void GuestMountFailed(ILogger logger, string target, string fsType, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Waiting for virtio-serial port {Name} to appear")]
    public static partial void WaitingForPort(ILogger logger, string name);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Host channel {Channel} open")]
    public static partial void ChannelOpen(ILogger logger, string channel);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Host disconnected from {Channel}")]
    public static partial void HostDisconnected(ILogger logger, string channel);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning,
        Message = "Port {Channel}: no SIGIO for host connections ({Reason}); polling every {PollMs} ms while disconnected")]
    public static partial void PortSignalUnavailable(ILogger logger, string channel, string reason, int pollMs);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Error, Message = "Host session failed")]
    public static partial void SessionFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Container {Id} created (rootfs {Rootfs}, cgroup {Cgroup})")]
    public static partial void ContainerCreated(ILogger logger, string id, string rootfs, string cgroup);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Container {Id} started: pid {Pid}")]
    public static partial void ContainerStarted(ILogger logger, string id, int pid);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Container {Id} failed to start: {Reason}")]
    public static partial void ContainerStartFailed(ILogger logger, string id, string reason);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Container {Id} exited: code {ExitCode}, signal {Signal}")]
    public static partial void ContainerExited(ILogger logger, string id, int exitCode, uint signal);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Information, Message = "Container {Id} removed")]
    public static partial void ContainerRemoved(ILogger logger, string id);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning,
        Message = "Output pipes of {What} still open {Seconds}s after its process exited (a leftover process holds them); closing")]
    public static partial void OutputDrainTimedOut(ILogger logger, string what, double seconds);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Warning, Message = "Exec in container {Id} timed out after {Milliseconds} ms; killed pid {Pid}")]
    public static partial void ExecTimedOut(ILogger logger, string id, uint milliseconds, int pid);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "Mounted {Source} ({FsType}) on {Target}")]
    public static partial void ShareMounted(ILogger logger, string source, string fsType, string target);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Warning, Message = "Shutdown requested: syncing and {Action}")]
    public static partial void ShuttingDown(ILogger logger, string action);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Error, Message = "reboot({Command}) failed: {Reason}")]
    public static partial void RebootFailed(ILogger logger, string command, string reason);

    [LoggerMessage(EventId = 1023, Level = LogLevel.Information, Message = "Warm-up container ran in {Milliseconds:F0} ms")]
    public static partial void WarmedUp(ILogger logger, double milliseconds);

    [LoggerMessage(EventId = 1024, Level = LogLevel.Warning, Message = "Warm-up: removing {Directory} failed: {Reason}")]
    public static partial void WarmUpCleanupFailed(ILogger logger, string directory, string reason);
}
