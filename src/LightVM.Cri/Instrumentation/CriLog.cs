using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace LightVM.Cri.Instrumentation;

/// <summary>The daemon's log messages. Event ids are stable: 1xx hosting, 2xx RPCs.</summary>
internal static partial class CriLog
{
    [LoggerMessage(100, LogLevel.Information, "lightvm-cri {Version} serving CRI on {Socket} (state {StateRoot}, pid {Pid})")]
    public static partial void Serving(ILogger logger, string version, string socket, string stateRoot, int pid);

    [LoggerMessage(101, LogLevel.Information, "Shutting down: no new calls accepted, waiting up to {Seconds}s for {InFlight} in-flight call(s)")]
    public static partial void ShuttingDown(ILogger logger, int seconds, int inFlight);

    [LoggerMessage(102, LogLevel.Information, "Stopped: state closed, socket {Socket} removed")]
    public static partial void Stopped(ILogger logger, string socket);

    [LoggerMessage(103, LogLevel.Information, "Tracing enabled: exporter {Exporter}")]
    public static partial void TracingEnabled(ILogger logger, string exporter);

    [LoggerMessage(104, LogLevel.Information, "Ready: {Component}")]
    public static partial void ComponentReady(ILogger logger, string component);

    [LoggerMessage(200, LogLevel.Debug, "{Method} -> {Code} in {Milliseconds:F1} ms")]
    public static partial void RpcDoneDebug(ILogger logger, string method, StatusCode code, double milliseconds);

    [LoggerMessage(201, LogLevel.Information, "{Method} -> {Code} in {Milliseconds:F1} ms")]
    public static partial void RpcDone(ILogger logger, string method, StatusCode code, double milliseconds);

    [LoggerMessage(202, LogLevel.Warning, "{Method} -> {Code} in {Milliseconds:F1} ms: {Detail}")]
    public static partial void RpcFailed(ILogger logger, string method, StatusCode code, double milliseconds, string detail);

    [LoggerMessage(203, LogLevel.Error, "{Method} -> Internal in {Milliseconds:F1} ms: unexpected error")]
    public static partial void RpcCrashed(ILogger logger, string method, double milliseconds, Exception exception);
}
