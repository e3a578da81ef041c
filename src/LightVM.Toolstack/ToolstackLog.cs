using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack;

internal static partial class ToolstackLog
{
    [LoggerMessage(5000, LogLevel.Debug, "VM {Vm}: preparing {Shape} with accel {Accel}")]
    public static partial void Preparing(ILogger logger, string vm, VmShape shape, string accel);

    [LoggerMessage(5001, LogLevel.Information, "VM {Vm}: prepared {Shape} (accel {Accel}, VMM pid {Pid}) in {Milliseconds} ms")]
    public static partial void Prepared(ILogger logger, string vm, VmShape shape, string accel, int pid, long milliseconds);

    [LoggerMessage(5002, LogLevel.Warning, "VM {Vm}: prepare failed, rolled back: {Problem}")]
    public static partial void PrepareFailed(ILogger logger, string vm, string problem);

    [LoggerMessage(5003, LogLevel.Information, "VM {Vm}: stopped and cleaned up")]
    public static partial void Stopped(ILogger logger, string vm);

    [LoggerMessage(5004, LogLevel.Information, "VM {Vm}: VMM exited: {Reason}")]
    public static partial void Exited(ILogger logger, string vm, string reason);

    [LoggerMessage(5005, LogLevel.Information, "Accelerator: {Accel} ({Reason})")]
    public static partial void AccelChosen(ILogger logger, string accel, string reason);

    [LoggerMessage(5006, LogLevel.Warning, "Accelerator: KVM test boot failed, falling back to TCG: {Reason}")]
    public static partial void AccelFallback(ILogger logger, string reason);

    [LoggerMessage(5007, LogLevel.Debug, "VM {Vm}: share {Name} attached from {HostPath} (read-only {ReadOnly})")]
    public static partial void ShareAttached(ILogger logger, string vm, string name, string hostPath, bool readOnly);

    [LoggerMessage(5008, LogLevel.Debug, "VM {Vm}: share {Name} detached")]
    public static partial void ShareDetached(ILogger logger, string vm, string name);

    [LoggerMessage(5009, LogLevel.Information, "VM {Vm}: reattached to VMM pid {Pid}")]
    public static partial void Recovered(ILogger logger, string vm, int pid);

    [LoggerMessage(5010, LogLevel.Warning, "VM {Vm}: cleanup step {Step} failed: {Problem}")]
    public static partial void CleanupFailed(ILogger logger, string vm, string step, string problem);

    [LoggerMessage(5011, LogLevel.Debug, "VM {Vm}: agent probe attempt failed, retrying: {Problem}")]
    public static partial void ProbeRetry(ILogger logger, string vm, string problem);

    [LoggerMessage(5012, LogLevel.Debug, "VM {Vm}: booted in the background at nice {Nice}, now at normal priority")]
    public static partial void BackgroundBoot(ILogger logger, string vm, int nice);

    [LoggerMessage(5013, LogLevel.Warning,
        "VM {Vm}: could not return the VMM to normal priority ({Problem}); the VM is dropped and later pool refills boot at normal priority")]
    public static partial void BackgroundNiceDisabled(ILogger logger, string vm, string problem);

    [LoggerMessage(5014, LogLevel.Debug, "VM {Vm}: guest warmed up in {Milliseconds:F0} ms")]
    public static partial void WarmedUp(ILogger logger, string vm, double milliseconds);

    [LoggerMessage(5020, LogLevel.Warning, "VM {Vm}: left by a previous daemon and claimed by no pod; stopped (VMM pid {Pid})")]
    public static partial void OrphanStopped(ILogger logger, string vm, int pid);

    [LoggerMessage(5021, LogLevel.Warning, "VM {Vm}: left by a previous daemon; stopping it failed: {Reason}")]
    public static partial void OrphanStopFailed(ILogger logger, string vm, string reason);
}
