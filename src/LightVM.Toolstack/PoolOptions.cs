namespace LightVM.Toolstack;

/// <summary>
/// The warm pool of prepared VMs. TOML section <c>[pool]</c>. Keys arrive with the pods-as-VMs issue; until then
/// any key here is refused.
/// </summary>
public sealed class PoolOptions
{
    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        _ = prefix;
        return [];
    }
}
