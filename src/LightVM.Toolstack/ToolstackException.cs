namespace LightVM.Toolstack;

/// <summary>What went wrong, coarse enough for the daemon to map onto a gRPC status at its edge.</summary>
public enum ToolstackErrorKind
{
    /// <summary>The caller asked for something malformed (a bad shape, a path that does not exist).</summary>
    InvalidArgument,

    /// <summary>The VM, its run directory or its VMM process is not there.</summary>
    NotFound,

    /// <summary>The VM is in the wrong state for the call, or the host lacks what the backend needs.</summary>
    FailedPrecondition,

    /// <summary>A boot, probe or stop did not finish in its time.</summary>
    DeadlineExceeded,

    /// <summary>The VMM or its control socket went away.</summary>
    Unavailable,

    /// <summary>A bug or an unexpected host failure.</summary>
    Internal,
}

/// <summary>The one exception family of the toolstack. Messages name the VM and the step that failed.</summary>
public sealed class ToolstackException : Exception
{
    public ToolstackException(ToolstackErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public ToolstackErrorKind Kind { get; }
}
