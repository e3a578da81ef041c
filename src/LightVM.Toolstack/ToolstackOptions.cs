namespace LightVM.Toolstack;

/// <summary>How the backend runs guest code: hardware virtualisation, the emulator, or whichever works here.</summary>
public enum AccelMode
{
    /// <summary>Try KVM by booting a tiny VM once; fall back to TCG when that fails.</summary>
    Auto,

    /// <summary>KVM only; a VM that cannot use it fails to prepare.</summary>
    Kvm,

    /// <summary>QEMU's TCG emulator.</summary>
    Tcg,
}

/// <summary>
/// The VM control plane. TOML section <c>[toolstack]</c>. The run directories live under the daemon's
/// <c>state.run_root</c>, handed to the backend separately.
/// </summary>
public sealed class ToolstackOptions
{
    /// <summary>The VM backend; only <c>qemu</c> exists today.</summary>
    public string Backend { get; set; } = "qemu";

    /// <summary>The QEMU binary (a name looked up on PATH, or an absolute path).</summary>
    public string QemuBinary { get; set; } = "qemu-system-x86_64";

    public AccelMode Accel { get; set; } = AccelMode.Auto;

    /// <summary>The guest kernel (an uncompressed PVH ELF vmlinux for <c>-M microvm</c>).</summary>
    public string Kernel { get; set; } = "/usr/lib/lightvm/vmlinux";

    /// <summary>The guest initramfs holding the agent.</summary>
    public string Initrd { get; set; } = "/usr/lib/lightvm/initrd.img";

    /// <summary>Appended to the built-in kernel command line (e.g. <c>tsc_early_khz=</c>, <c>quiet</c>).</summary>
    public string KernelArgsExtra { get; set; } = "";

    public int DefaultVcpus { get; set; } = 1;

    public int DefaultMemoryMib { get; set; } = 128;

    /// <summary>Added to a pod's memory limit to size its VM: room for the guest kernel and agent.</summary>
    public int MemoryOverheadMib { get; set; } = 64;

    /// <summary>
    /// Bounds QEMU's TCG translation cache (its default is far larger), which costs host memory per VM: a boot
    /// generates ~60 MiB of code, so an idle VM has touched all of it. Too small and a container start flushes and
    /// retranslates the whole cache (at 16 MiB a first start flushed it 1-2 times). Measured (hack/bench-pods.sh,
    /// idle 1x128 pod PSS / pooled Create+Start p50): 16 MiB 76 MiB / ~350 ms, 24: 86 / 191, 28: 91 / 129,
    /// 32: 95 / 110.
    /// </summary>
    public int TcgTbSizeMib { get; set; } = 28;

    /// <summary>
    /// The nice value pool refills boot at (0 = normal priority), so they take CPU only when pods leave it; the VM
    /// goes back to normal priority once its agent answers. Needs CAP_SYS_NICE to go back; without it refills boot
    /// at normal priority.
    /// </summary>
    public int BackgroundBootNice { get; set; } = 10;

    /// <summary>
    /// VMs prepared in the background (pool refills) run one throwaway container before they count as ready, so the
    /// guest code a container start runs (and, under TCG, its translation) is warm when a pod claims the VM, and a
    /// guest that cannot run containers never enters the pool. VMs booted on request skip it.
    /// </summary>
    public bool BackgroundWarmUp { get; set; } = true;

    /// <summary>From VMM start to agent ready.</summary>
    public int BootTimeoutSeconds { get; set; } = 30;

    /// <summary>How long <c>accel = auto</c> waits for its KVM test boot before choosing TCG.</summary>
    public int KvmProbeTimeoutSeconds { get; set; } = 10;

    /// <summary>The shape used when a pod asks for nothing.</summary>
    public VmShape DefaultShape => new(DefaultVcpus, DefaultMemoryMib);

    /// <summary>
    /// The VM shape for a pod's resources: whole vCPUs rounded up from <paramref name="cpus"/>, memory = the limit
    /// plus <see cref="MemoryOverheadMib"/>, rounded up to 32 MiB so similar pods share one pool shape. Missing
    /// values take the defaults (defaults already include room for the guest, so no overhead is added to them).
    /// </summary>
    public VmShape ShapeFor(double? cpus, long? memoryBytes)
    {
        var vcpus = cpus is > 0 ? (int)Math.Ceiling(cpus.Value) : DefaultVcpus;
        int mib;
        if (memoryBytes is > 0)
        {
            var wanted = (memoryBytes.Value + (1024 * 1024) - 1) / (1024 * 1024) + MemoryOverheadMib;
            mib = (int)Math.Min(int.MaxValue / 2, (wanted + 31) / 32 * 32);
        }
        else
        {
            mib = DefaultMemoryMib;
        }

        return new VmShape(Math.Max(vcpus, 1), Math.Max(mib, DefaultMemoryMib));
    }

    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (Backend != "qemu")
        {
            yield return $"{prefix}.backend: \"{Backend}\" is not a known backend (known: \"qemu\")";
        }

        if (string.IsNullOrWhiteSpace(QemuBinary))
        {
            yield return $"{prefix}.qemu_binary: must name a QEMU binary";
        }

        if (string.IsNullOrWhiteSpace(Kernel) || !Path.IsPathFullyQualified(Kernel))
        {
            yield return $"{prefix}.kernel: must be an absolute path, got \"{Kernel}\"";
        }

        if (string.IsNullOrWhiteSpace(Initrd) || !Path.IsPathFullyQualified(Initrd))
        {
            yield return $"{prefix}.initrd: must be an absolute path, got \"{Initrd}\"";
        }

        if (DefaultVcpus is < 1 or > 64)
        {
            yield return $"{prefix}.default_vcpus: must be 1..64, got {DefaultVcpus}";
        }

        if (DefaultMemoryMib is < 32 or > 1024 * 1024)
        {
            yield return $"{prefix}.default_memory_mib: must be 32..1048576, got {DefaultMemoryMib}";
        }

        if (MemoryOverheadMib is < 0 or > 4096)
        {
            yield return $"{prefix}.memory_overhead_mib: must be 0..4096, got {MemoryOverheadMib}";
        }

        if (TcgTbSizeMib is < 1 or > 2048)
        {
            yield return $"{prefix}.tcg_tb_size_mib: must be 1..2048, got {TcgTbSizeMib}";
        }

        if (BackgroundBootNice is < 0 or > 19)
        {
            yield return $"{prefix}.background_boot_nice: must be 0..19, got {BackgroundBootNice}";
        }

        if (BootTimeoutSeconds is < 1 or > 600)
        {
            yield return $"{prefix}.boot_timeout_seconds: must be 1..600, got {BootTimeoutSeconds}";
        }

        if (KvmProbeTimeoutSeconds is < 1 or > 600)
        {
            yield return $"{prefix}.kvm_probe_timeout_seconds: must be 1..600, got {KvmProbeTimeoutSeconds}";
        }
    }
}
