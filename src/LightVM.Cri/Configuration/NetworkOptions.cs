namespace LightVM.Cri.Configuration;

/// <summary>
/// Pod networking. TOML section <c>[network]</c>. Its keys (CNI configuration and plugin directories) arrive with
/// the CNI issue; until then the section exists so that the file layout is stable, and any key in it is refused.
/// </summary>
public sealed class NetworkOptions
{
    internal static IEnumerable<string> Validate(string prefix)
    {
        _ = prefix;
        return [];
    }
}
