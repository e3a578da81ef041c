using System.Globalization;

namespace LightVM.Runtime.Pods;

/// <summary>Signal names of an image's StopSignal (<c>SIGQUIT</c>, <c>QUIT</c>, <c>3</c>, <c>SIGRTMIN+3</c>) as x86-64 Linux numbers.</summary>
internal static class StopSignals
{
    public const uint Default = 15;

    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF",
        "WINCH", "IO", "PWR", "SYS",
    ];

    private const uint RtMin = 34;
    private const uint RtMax = 64;

    /// <summary>The signal number; SIGTERM when <paramref name="text"/> is empty.</summary>
    public static uint Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Default;
        }

        var name = text.Trim().ToUpperInvariant();
        if (uint.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return number is >= 1 and <= RtMax ? number : throw Invalid(text);
        }

        name = name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : name;
        var index = Array.IndexOf(Names, name);
        if (index > 0)
        {
            return (uint)index;
        }

        if (name == "IOT")
        {
            return 6;
        }

        if (name.StartsWith("RTMIN", StringComparison.Ordinal) || name.StartsWith("RTMAX", StringComparison.Ordinal))
        {
            var offset = name.Length == 5 ? 0 : int.TryParse(name[5..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var o) ? o : int.MinValue;
            var value = name.StartsWith("RTMIN", StringComparison.Ordinal) ? (long)RtMin + offset : (long)RtMax + offset;
            if (offset != int.MinValue && value is >= RtMin and <= RtMax)
            {
                return (uint)value;
            }
        }

        throw Invalid(text);
    }

    private static RuntimeException Invalid(string text) =>
        new(RuntimeErrorKind.InvalidArgument, $"stop signal \"{text}\" is not a Linux signal name or number");
}
