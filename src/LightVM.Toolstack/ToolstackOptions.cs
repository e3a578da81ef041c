namespace LightVM.Toolstack;

/// <summary>
/// The VM control plane. TOML section <c>[toolstack]</c>. Keys (backend, accel, guest kernel and initramfs, VM
/// sizes) arrive with the pods-as-VMs issue; until then any key here is refused.
/// </summary>
public sealed class ToolstackOptions
{
    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        _ = prefix;
        return [];
    }
}
