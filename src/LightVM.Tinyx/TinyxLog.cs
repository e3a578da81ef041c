using Microsoft.Extensions.Logging;

namespace LightVM.Tinyx;

/// <summary>Log messages of the guest image builder; event ids are stable.</summary>
internal static partial class TinyxLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "initramfs: {Count} entries, {Bytes} bytes of file content")]
    public static partial void InitramfsCollected(ILogger logger, int count, long bytes);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "initramfs: {Path} ({Size} bytes, reused: {Reused})")]
    public static partial void InitramfsPublished(ILogger logger, string path, long size, bool reused);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "kernel: cached build {Path} reused")]
    public static partial void KernelReused(ILogger logger, string path);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Information, Message = "kernel: {Step} ({Elapsed:F0}s)")]
    public static partial void KernelStep(ILogger logger, string step, double elapsed);

    [LoggerMessage(EventId = 4012, Level = LogLevel.Information, Message = "kernel: make vmlinux, {Steps} build steps done ({Elapsed:F0}s), last: {Last}")]
    public static partial void KernelProgress(ILogger logger, int steps, double elapsed, string last);

    [LoggerMessage(EventId = 4013, Level = LogLevel.Information, Message = "make: {Line}")]
    public static partial void KernelMakeLine(ILogger logger, string line);

    [LoggerMessage(EventId = 4014, Level = LogLevel.Warning, Message = "make: {Line}")]
    public static partial void KernelMakeDiagnostic(ILogger logger, string line);

    [LoggerMessage(EventId = 4015, Level = LogLevel.Information, Message = "kernel: built {Path} ({Size} bytes) in {Elapsed:F0}s")]
    public static partial void KernelBuilt(ILogger logger, string path, long size, double elapsed);

    [LoggerMessage(EventId = 4016, Level = LogLevel.Information, Message = "kernel: removed {Path}, left by a build that no longer runs")]
    public static partial void KernelAbandonedBuildRemoved(ILogger logger, string path);

    [LoggerMessage(EventId = 4017, Level = LogLevel.Warning, Message = "kernel: could not remove {Path}, left by a build that no longer runs: {Reason}")]
    public static partial void KernelAbandonedBuildNotRemoved(ILogger logger, string path, string reason);
}
