using System.Globalization;

namespace LightVM.Toolstack.Qemu;

/// <summary>
/// Builds the QEMU arguments for one VM: a <c>microvm</c> machine (virtio-mmio only, no PCI, no ACPI, no firmware
/// tables), daemonized so the VMM outlives the daemon, controlled over QMP, with the console, agent channel and
/// share as the only devices.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>
    /// Always on the guest kernel command line. The console is the UART (ttyS0): it exists from early boot, unlike a
    /// virtconsole whose port may appear only after the kernel opened /dev/console for init (found by the guest-image
    /// work). acpi=off: microvm has no ACPI tables to look for. reboot=t with -no-reboot and panic=-1 turn a guest
    /// reboot or panic into the VMM exiting.
    /// </summary>
    public const string BaseKernelArgs = "console=ttyS0 acpi=off reboot=t panic=-1 quiet";

    /// <param name="tscKhz">
    /// The host TSC rate for TCG guests (<c>tsc_early_khz</c>): without HPET or PM timer they often fail to calibrate
    /// the TSC and lose it as clocksource. Null to leave it out.
    /// </param>
    public static List<string> Build(ToolstackOptions options, VmShape shape, string accel, QemuPaths paths, string id, long? tscKhz = null)
    {
        var kernelArgs = BaseKernelArgs;
        if (accel != "kvm" && tscKhz is > 0)
        {
            kernelArgs += " tsc_early_khz=" + tscKhz.Value.ToString(CultureInfo.InvariantCulture);
        }

        if (!string.IsNullOrWhiteSpace(options.KernelArgsExtra))
        {
            kernelArgs += " " + options.KernelArgsExtra.Trim();
        }

        var accelArg = accel == "kvm"
            ? "kvm"
            : "tcg,tb-size=" + options.TcgTbSizeMib.ToString(CultureInfo.InvariantCulture);
        return
        [
            "-name", "lightvm-" + id,
            "-M", "microvm,acpi=off,rtc=on",
            "-accel", accelArg,
            "-cpu", accel == "kvm" ? "host" : "max",
            "-smp", shape.Vcpus.ToString(CultureInfo.InvariantCulture),
            "-m", shape.MemoryMib.ToString(CultureInfo.InvariantCulture) + "M",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-daemonize", "-pidfile", paths.PidFile,
            "-kernel", options.Kernel,
            "-initrd", options.Initrd,
            "-append", kernelArgs,
            "-chardev", $"socket,id=qmp,path={paths.QmpSocket},server=on,wait=off",
            "-mon", "chardev=qmp,mode=control",
            "-chardev", $"file,id=console,path={paths.ConsoleLog}",
            "-serial", "chardev:console",
            "-device", "virtio-serial-device,max_ports=2",
            "-chardev", $"socket,id=agent,path={paths.AgentSocket},server=on,wait=off",
            "-device", $"virtserialport,chardev=agent,name={VmShares.AgentPort}",
            "-fsdev", $"local,id=share,path={paths.Share},security_model=none,multidevs=remap",
            "-device", $"virtio-9p-device,fsdev=share,mount_tag={VmShares.Tag}",
        ];
    }
}
