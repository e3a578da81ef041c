namespace LightVM.Agent.Protocol.Client;

/// <summary>Settings of one <see cref="AgentClient"/> (one per VM).</summary>
public sealed class AgentClientOptions
{
    /// <summary>Names the VM in log messages and errors.</summary>
    public string Name { get; set; } = "agent";

    /// <summary>Reported to the agent in the handshake.</summary>
    public string HostVersion { get; set; } = typeof(AgentClientOptions).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>Largest frame payload accepted from the agent; the agent may lower what the host may send.</summary>
    public int MaxFrameBytes { get; set; } = AgentProtocol.DefaultMaxFrameBytes;

    /// <summary>How long to wait for the agent's answer to the handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// While calls are pending, ping the agent this often. A guest agent that restarted under an open connection
    /// (the virtio port stays connected) never answers those calls; the ping tells.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A keepalive ping unanswered for this long breaks the connection (pending calls fail Unavailable).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Output bytes the agent may send ahead of the reader (per ReadOutput stream).</summary>
    public int OutputWindowBytes { get; set; } = 256 * 1024;

    /// <summary>Throws a clear message for settings that cannot work.</summary>
    public void Validate()
    {
        if (MaxFrameBytes < AgentProtocol.MinMaxFrameBytes)
        {
            throw new ArgumentException($"{nameof(MaxFrameBytes)} must be at least {AgentProtocol.MinMaxFrameBytes}, not {MaxFrameBytes}");
        }

        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(HandshakeTimeout)} must be positive, not {HandshakeTimeout}");
        }

        if (KeepAliveInterval <= TimeSpan.Zero || KeepAliveTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(KeepAliveInterval)} and {nameof(KeepAliveTimeout)} must be positive");
        }

        if (OutputWindowBytes < 4096)
        {
            throw new ArgumentException($"{nameof(OutputWindowBytes)} must be at least 4096, not {OutputWindowBytes}");
        }
    }
}
