namespace LightVM.Tinyx.Cli;

/// <summary>A small "--name value" / "--flag" reader: the tool has two commands and a dozen options.</summary>
internal sealed class Arguments
{
    private readonly Queue<string> _pending;

    public Arguments(IEnumerable<string> args)
    {
        _pending = new Queue<string>(args);
    }

    public bool TryNextOption(out string option)
    {
        if (_pending.Count == 0)
        {
            option = string.Empty;
            return false;
        }

        option = _pending.Dequeue();
        if (!option.StartsWith("--", StringComparison.Ordinal))
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"unexpected argument '{option}' (options start with --)");
        }

        return true;
    }

    public string Value(string option) =>
        _pending.Count > 0 && !_pending.Peek().StartsWith("--", StringComparison.Ordinal)
            ? _pending.Dequeue()
            : throw new TinyxException(TinyxErrorKind.InvalidArgument, $"{option} needs a value");

    public int IntValue(string option) =>
        int.TryParse(Value(option), System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new TinyxException(TinyxErrorKind.InvalidArgument, $"{option} needs a whole number");

    public static TinyxException Unknown(string command, string option) =>
        new(TinyxErrorKind.InvalidArgument, $"unknown option '{option}' for '{command}' (see lightvm-tinyx --help)");
}
