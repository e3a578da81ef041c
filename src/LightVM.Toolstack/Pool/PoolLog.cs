using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Pool;

internal static partial class PoolLog
{
    [LoggerMessage(5200, LogLevel.Information, "Warm pool: keeping {Size} VM(s) ready for each of {Shapes}, {Concurrency} boot(s) at a time")]
    public static partial void Started(ILogger logger, int size, string shapes, int concurrency);

    [LoggerMessage(5201, LogLevel.Debug, "Warm pool: VM {Vm} of {Shape} ready")]
    public static partial void Refilled(ILogger logger, string vm, VmShape shape);

    [LoggerMessage(5202, LogLevel.Warning, "Warm pool: refill of {Shape} failed ({Failures} in a row), retrying in {DelaySeconds} s: {Problem}")]
    public static partial void RefillFailed(ILogger logger, VmShape shape, int failures, double delaySeconds, string problem);

    [LoggerMessage(5203, LogLevel.Debug, "Warm pool: hit, VM {Vm} of {Shape} handed out")]
    public static partial void Hit(ILogger logger, string vm, VmShape shape);

    [LoggerMessage(5204, LogLevel.Information, "Warm pool: miss for {Shape}, preparing a VM cold")]
    public static partial void Miss(ILogger logger, VmShape shape);

    [LoggerMessage(5205, LogLevel.Warning, "Warm pool: dropping VM {Vm} of {Shape}: it exited while waiting ({Reason})")]
    public static partial void DroppedDead(ILogger logger, string vm, VmShape shape, string reason);

    [LoggerMessage(5206, LogLevel.Information, "Warm pool: drained, {Count} VM(s) stopped")]
    public static partial void Drained(ILogger logger, int count);

    [LoggerMessage(5207, LogLevel.Warning, "Warm pool: stopping VM {Vm} failed: {Problem}")]
    public static partial void StopFailed(ILogger logger, string vm, string problem);

    [LoggerMessage(5209, LogLevel.Debug, "Warm pool: refill of {Shape} waited {WaitedMs:F0} ms for pod and container starts to finish ({Active} still running)")]
    public static partial void RefillDeferred(ILogger logger, VmShape shape, double waitedMs, int active);

    [LoggerMessage(5208, LogLevel.Warning, "Backend warm-up failed (the first VM boot retries it): {Problem}")]
    public static partial void WarmUpFailed(ILogger logger, string problem);
}
