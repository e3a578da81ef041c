using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol;

/// <summary>The agent area's exception: errors reported by the guest agent or by the protocol layer.</summary>
public class AgentException : Exception
{
    public AgentException(AgentErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    public AgentException(AgentErrorKind kind, string message, Exception inner)
        : base(message, inner)
    {
        Kind = kind;
    }

    public AgentErrorKind Kind { get; }

    internal static AgentException FromWire(Error error) =>
        new(FromWireKind(error.Kind), error.Message);

    internal Error ToWire() => new() { Kind = ToWireKind(Kind), Message = Message };

    internal static AgentErrorKind FromWireKind(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument => AgentErrorKind.InvalidArgument,
        ErrorKind.NotFound => AgentErrorKind.NotFound,
        ErrorKind.AlreadyExists => AgentErrorKind.AlreadyExists,
        ErrorKind.FailedPrecondition => AgentErrorKind.FailedPrecondition,
        ErrorKind.DeadlineExceeded => AgentErrorKind.DeadlineExceeded,
        ErrorKind.Unavailable => AgentErrorKind.Unavailable,
        _ => AgentErrorKind.Internal,
    };

    internal static ErrorKind ToWireKind(AgentErrorKind kind) => kind switch
    {
        AgentErrorKind.InvalidArgument => ErrorKind.InvalidArgument,
        AgentErrorKind.NotFound => ErrorKind.NotFound,
        AgentErrorKind.AlreadyExists => ErrorKind.AlreadyExists,
        AgentErrorKind.FailedPrecondition => ErrorKind.FailedPrecondition,
        AgentErrorKind.DeadlineExceeded => ErrorKind.DeadlineExceeded,
        AgentErrorKind.Unavailable => ErrorKind.Unavailable,
        _ => ErrorKind.Internal,
    };
}
