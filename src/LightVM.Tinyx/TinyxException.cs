namespace LightVM.Tinyx;

/// <summary>What went wrong, in terms the daemon can map to a gRPC status at its edge.</summary>
public enum TinyxErrorKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    DeadlineExceeded,
    Unavailable,
    Internal,
}

/// <summary>The guest image builder's exception family: every failure names the thing it is about.</summary>
public class TinyxException : Exception
{
    public TinyxException(TinyxErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public TinyxErrorKind Kind { get; }
}
