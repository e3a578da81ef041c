namespace LightVM.Images;

/// <summary>What went wrong in the image service; the daemon maps each kind to one gRPC status.</summary>
public enum ImageErrorKind
{
    /// <summary>A bug or an unexpected local failure (disk, state store).</summary>
    Internal,

    /// <summary>The request is malformed: a bad image reference, an unsupported manifest.</summary>
    InvalidArgument,

    /// <summary>The image, tag, manifest or blob does not exist.</summary>
    NotFound,

    /// <summary>The thing to create exists already.</summary>
    AlreadyExists,

    /// <summary>The content cannot be used as asked: a layer escaping its rootfs, a digest mismatch.</summary>
    FailedPrecondition,

    /// <summary>The operation ran out of time.</summary>
    DeadlineExceeded,

    /// <summary>The registry cannot be reached or keeps failing; retrying later may work.</summary>
    Unavailable,

    /// <summary>The registry wants credentials we do not have, or rejected the ones we sent.</summary>
    Unauthenticated,

    /// <summary>The registry knows who we are and refuses access.</summary>
    PermissionDenied,
}

/// <summary>An error of the image service. The message names the image and, where there is one, the registry and blob.</summary>
public sealed class ImageException : Exception
{
    public ImageException(ImageErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public ImageException()
    {
    }

    public ImageException(string message)
        : base(message)
    {
    }

    public ImageException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>What went wrong.</summary>
    public ImageErrorKind Kind { get; }
}
