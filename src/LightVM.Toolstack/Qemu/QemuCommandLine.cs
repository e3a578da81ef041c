using System.Globalization;

namespace LightVM.Toolstack.Qemu;

/// <summary>
/// Builds the QEMU arguments for one VM: a <c>microvm</c> machine (virtio-mmio only, no PCI, no ACPI, no firmware
/// tables), daemonized so the VMM outlives the daemon, controlled over QMP, with the console, agent channel and
/// share as the only devices.
/// </summary>
internal static class QemuCommandLine
{
    /// <summary>Always on the guest kernel command line: console on the virtio console, reboot = exit, no panic wait.</summary>
    public const string BaseKernelArgs = "console=hvc0 reboot=t panic=-1 quiet";

    public static List<string> Build(ToolstackOptions options, VmShape shape, string accel, QemuPaths paths, string id)
    {
        var kernelArgs = string.IsNullOrWhiteSpace(options.KernelArgsExtra)
            ? BaseKernelArgs
            : BaseKernelArgs + " " + options.KernelArgsExtra.Trim();
        var accelArg = accel == "kvm"
            ? "kvm"
            : "tcg,tb-size=" + options.TcgTbSizeMib.ToString(CultureInfo.InvariantCulture);
        return
        [
            "-name", "lightvm-" + id,
            "-M", "microvm,acpi=off,rtc=on,isa-serial=off",
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
            "-device", "virtio-serial-device,max_ports=2",
            "-chardev", $"file,id=console,path={paths.ConsoleLog}",
            "-device", "virtconsole,chardev=console",
            "-chardev", $"socket,id=agent,path={paths.AgentSocket},server=on,wait=off",
            "-device", $"virtserialport,chardev=agent,name={VmShares.AgentPort}",
            "-fsdev", $"local,id=share,path={paths.Share},security_model=none,multidevs=remap",
            "-device", $"virtio-9p-device,fsdev=share,mount_tag={VmShares.Tag}",
        ];
    }
}
