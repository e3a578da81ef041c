using Microsoft.Extensions.Logging;

namespace LightVM.Runtime;

/// <summary>Runtime log events; ids 7000-7099.</summary>
internal static partial class RuntimeLog
{
    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "pod {PodId} ({Name}) ready in VM {VmId}: {Source}, claimed in {ClaimMs} ms")]
    public static partial void PodReady(ILogger logger, string podId, string name, string vmId, string source, long claimMs);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "pod {Name}: RunPodSandbox failed, rolled back: {Reason}")]
    public static partial void PodRolledBack(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "pod {Name}: the agent did not serve RunPodSandbox; guest console: {Console}")]
    public static partial void PodAgentFailedConsole(ILogger logger, string name, string console);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "pod {Name}: rollback step {Step} failed: {Reason}")]
    public static partial void RollbackStepFailed(ILogger logger, string name, string step, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Information, Message = "pod {PodId} stopped")]
    public static partial void PodStopped(ILogger logger, string podId);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Information, Message = "pod {PodId} removed")]
    public static partial void PodRemoved(ILogger logger, string podId);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Information, Message = "container {ContainerId} exited with code {ExitCode}")]
    public static partial void ContainerExited(ILogger logger, string containerId, int exitCode);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Warning, Message = "container {ContainerId}: log pump stopped: {Reason}")]
    public static partial void LogPumpFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Warning, Message = "container {ContainerId}: waiting for its exit failed: {Reason}")]
    public static partial void WaitFailed(ILogger logger, string containerId, string reason);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Warning, Message = "pod {PodId} of the previous daemon not recovered, now NotReady: {Reason}")]
    public static partial void PodNotRecovered(ILogger logger, string podId, string reason);

    [LoggerMessage(EventId = 7016, Level = LogLevel.Information, Message = "pod {PodId} recovered: VM {VmId} reattached, {Containers} running container(s) watched again")]
    public static partial void PodRecovered(ILogger logger, string podId, string vmId, int containers);

    [LoggerMessage(EventId = 7014, Level = LogLevel.Warning, Message = "pod {PodId}: its VMM exited unexpectedly ({Reason}); pod NotReady, running containers Exited")]
    public static partial void VmmDied(ILogger logger, string podId, string reason);

    [LoggerMessage(EventId = 7015, Level = LogLevel.Error, Message = "pod {PodId}: recording its VMM's death failed: {Reason}")]
    public static partial void VmmDeathHandlingFailed(ILogger logger, string podId, string reason);

    [LoggerMessage(EventId = 7017, Level = LogLevel.Information, Message = "container {ContainerId}: resources now {Resources}")]
    public static partial void ContainerResourcesUpdated(ILogger logger, string containerId, string resources);
}
