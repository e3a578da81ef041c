namespace LightVM.Agent.Protocol;

/// <summary>Why an agent call failed. Mirrors <c>lightvm.agent.v1.ErrorKind</c>; the daemon maps it to a gRPC status.</summary>
public enum AgentErrorKind
{
    /// <summary>The request is malformed or names something invalid.</summary>
    InvalidArgument,

    /// <summary>The container, binary or path does not exist.</summary>
    NotFound,

    /// <summary>The container or mount already exists.</summary>
    AlreadyExists,

    /// <summary>The call is valid but the state does not allow it (e.g. exec in a stopped container).</summary>
    FailedPrecondition,

    /// <summary>A timeout expired (e.g. ExecSync); the work was stopped.</summary>
    DeadlineExceeded,

    /// <summary>The agent cannot be reached or the connection broke; the call may be retried.</summary>
    Unavailable,

    /// <summary>A bug or an unexpected failure inside the agent or the protocol.</summary>
    Internal,
}
