namespace LightVM.Agent.Protocol.Server;

/// <summary>Settings of the guest side of the protocol.</summary>
public sealed class AgentServerOptions
{
    /// <summary>Reported to the host in the handshake.</summary>
    public string AgentVersion { get; set; } = "unknown";

    /// <summary>Random per agent start; lets the host notice that the agent restarted.</summary>
    public string InstanceId { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>Largest frame payload accepted from the host.</summary>
    public int MaxFrameBytes { get; set; } = AgentProtocol.DefaultMaxFrameBytes;

    /// <summary>
    /// An incomplete frame with no new byte for this long is abandoned and the bytes it held are searched for a
    /// Hello: the cure for a host that died mid-frame on a transport that does not report disconnects.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
