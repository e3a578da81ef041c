using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol;

/// <summary>Protocol-wide constants shared by the host and the guest.</summary>
public static class AgentProtocol
{
    /// <summary>
    /// The wire protocol version. Bump it when a frame or message changes meaning; adding calls or fields does not.
    /// Hello and HelloAck keep their shape across versions so a mismatch is always reported clearly.
    /// </summary>
    public const uint Version = 1;

    /// <summary>Default largest frame payload either side accepts.</summary>
    public const int DefaultMaxFrameBytes = 1 << 20;

    /// <summary>The smallest max frame size a side may configure; handshakes and errors must always fit.</summary>
    public const int MinMaxFrameBytes = 16 * 1024;

    /// <summary>Whether a call answers with a stream of <see cref="StreamItem"/> rather than one <see cref="Response"/>.</summary>
    public static bool IsStreaming(Request.CallOneofCase call) => call == Request.CallOneofCase.ReadOutput;
}
