namespace LightVM.Toolstack;

/// <summary>The size of a VM: what the pool keys its prepared VMs by.</summary>
public readonly record struct VmShape(int Vcpus, int MemoryMib)
{
    /// <summary>Throws <see cref="ToolstackErrorKind.InvalidArgument"/> unless both sizes are usable.</summary>
    public void EnsureValid()
    {
        if (Vcpus is < 1 or > 64)
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"VM shape {this}: vCPUs must be 1..64");
        }

        if (MemoryMib is < 32 or > 1024 * 1024)
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"VM shape {this}: memory must be 32 MiB .. 1 TiB");
        }
    }

    public override string ToString() => $"{Vcpus}cpu/{MemoryMib}MiB";

    /// <summary>Parses the <c>"2x256"</c> form (vCPUs x MiB) used by <c>pool.shapes</c>.</summary>
    public static bool TryParse(string text, out VmShape shape)
    {
        shape = default;
        var parts = text.Split('x', StringSplitOptions.TrimEntries);
        if (parts.Length != 2 ||
            !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var cpus) ||
            !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var mib))
        {
            return false;
        }

        shape = new VmShape(cpus, mib);
        return true;
    }
}
