using System.Text.RegularExpressions;

namespace LightVM.Tinyx.Kernel;

/// <summary>
/// Compares a config fragment with the .config olddefconfig produced. Kconfig silently drops a request whose
/// dependencies are unmet; this finds every such option so the build fails naming them.
/// </summary>
public static partial class KernelConfigCheck
{
    /// <summary>Options of the fragment: name to requested value (null for "is not set").</summary>
    public static IReadOnlyDictionary<string, string?> ParseFragment(string text)
    {
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.Trim();
            if (SetLine().Match(trimmed) is { Success: true } set)
            {
                options[set.Groups[1].Value] = set.Groups[2].Value;
            }
            else if (UnsetLine().Match(trimmed) is { Success: true } unset)
            {
                options[unset.Groups[1].Value] = null;
            }
        }

        return options;
    }

    /// <summary>Human-readable mismatches ("CONFIG_X=y wanted, got is not set"); empty when all made it.</summary>
    public static IReadOnlyList<string> FindMismatches(string fragment, string config)
    {
        var wanted = ParseFragment(fragment);
        var actual = ParseFragment(config);
        var mismatches = new List<string>();
        foreach (var (name, value) in wanted)
        {
            actual.TryGetValue(name, out var got);
            if (value is null ? got is not null and not "n" : got != value)
            {
                mismatches.Add($"{name}: wanted {value ?? "is not set"}, got {got ?? "is not set"}");
            }
        }

        return mismatches;
    }

    [GeneratedRegex(@"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")]
    private static partial Regex SetLine();

    [GeneratedRegex(@"^# (CONFIG_[A-Za-z0-9_]+) is not set$")]
    private static partial Regex UnsetLine();
}
