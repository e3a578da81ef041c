namespace LightVM.Agent.Protocol.Framing;

/// <summary>The frame types; the payload each carries is listed in protos/agent/v1/agent.proto.</summary>
public enum FrameType : byte
{
    Hello = 1,
    HelloAck = 2,
    Request = 3,
    Response = 4,
    StreamData = 5,
    StreamEnd = 6,
    Cancel = 7,
    Error = 8,
    Window = 9,
}
