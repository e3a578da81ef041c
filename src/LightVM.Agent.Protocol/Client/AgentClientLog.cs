using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Protocol.Client;

internal static partial class AgentClientLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information,
        Message = "Connected to agent {Name}: agent {AgentVersion}, protocol v{ProtocolVersion}, instance {InstanceId}")]
    public static partial void Connected(ILogger logger, string name, string agentVersion, uint protocolVersion, string instanceId);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Connecting to agent {Name} failed: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Connection to agent {Name} lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning,
        Message = "Agent {Name} restarted (instance {OldInstanceId} -> {NewInstanceId}): its containers are gone")]
    public static partial void AgentRestarted(ILogger logger, string name, string oldInstanceId, string newInstanceId);

    [LoggerMessage(EventId = 104, Level = LogLevel.Debug,
        Message = "Discarded {Bytes} stale bytes before the handshake answer of agent {Name}")]
    public static partial void StaleBytesDiscarded(ILogger logger, string name, long bytes);
}
