using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Protocol.Server;

internal static partial class AgentServerLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Information,
        Message = "Host connected: host {HostVersion}, protocol v{ProtocolVersion} ({Discarded} stale bytes skipped)")]
    public static partial void HostConnected(ILogger logger, string hostVersion, uint protocolVersion, long discarded);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Refused host: {Reason}")]
    public static partial void HostRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Corrupt input from the host ({Reason}); waiting for a new hello")]
    public static partial void CorruptInput(ILogger logger, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "Call {Call} failed unexpectedly")]
    public static partial void CallCrashed(ILogger logger, Exception exception, string call);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Host session ended ({Calls} calls cancelled)")]
    public static partial void SessionEnded(ILogger logger, int calls);

    [LoggerMessage(EventId = 205, Level = LogLevel.Debug, Message = "Call {Call} #{CallId} failed: {Kind}: {Message}")]
    public static partial void CallFailed(ILogger logger, string call, uint callId, AgentErrorKind kind, string message);
}
