namespace LightVM.Runtime;

/// <summary>What kind of runtime error this is; the daemon maps it to a gRPC status.</summary>
public enum RuntimeErrorKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    DeadlineExceeded,
    Unavailable,
    Internal,
}

/// <summary>An error of the pod and container runtime. The message names the pod, container or value at fault.</summary>
public sealed class RuntimeException : Exception
{
    public RuntimeException(RuntimeErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public RuntimeException()
    {
    }

    public RuntimeException(string message)
        : base(message)
    {
    }

    public RuntimeException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public RuntimeErrorKind Kind { get; } = RuntimeErrorKind.Internal;
}
