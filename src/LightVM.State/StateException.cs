namespace LightVM.State;

/// <summary>What can go wrong in the state store.</summary>
public enum StateErrorKind
{
    /// <summary>The database cannot be opened, read or written.</summary>
    Storage,

    /// <summary>A record with this id already exists.</summary>
    AlreadyExists,

    /// <summary>No record has this id.</summary>
    NotFound,
}

/// <summary>An error of the state store. The message names the database and, where there is one, the record.</summary>
public sealed class StateException : Exception
{
    public StateException(string message, Exception? inner = null, StateErrorKind kind = StateErrorKind.Storage)
        : base(message, inner)
    {
        Kind = kind;
    }

    public StateException()
    {
    }

    public StateException(string message)
        : base(message)
    {
    }

    public StateException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>What went wrong.</summary>
    public StateErrorKind Kind { get; }
}
