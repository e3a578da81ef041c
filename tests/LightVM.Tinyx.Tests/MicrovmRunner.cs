using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LightVM.Tinyx.Tests;

/// <summary>
/// Boots vmlinux + initramfs on QEMU's microvm machine under TCG and collects the guest console.
///
/// The command line that works here (the toolstack reuses it):
///   qemu-system-x86_64 -M microvm,acpi=off,rtc=on -accel tcg -cpu max -m 256M -smp 1
///     -nodefaults -no-user-config -nographic -no-reboot
///     -kernel vmlinux -initrd initramfs.cpio.gz
///     -append "console=ttyS0 acpi=off reboot=t panic=-1 quiet tsc_early_khz=KHZ"
///     -chardev stdio,id=console -serial chardev:console
///     -device virtio-serial-device
///     -chardev socket,id=agent,path=SOCK,server=on,wait=off -device virtserialport,chardev=agent,name=org.lightvm.agent
/// Why each part: microvm without ACPI lists its virtio-mmio transports on the kernel command line itself
/// (virtio_mmio.device=512@0xfeb00e00:12 ...) so nothing is probed, and acpi=off skips the search for an RSDP
/// that is not there; rtc=on gives the guest the wall clock; -no-reboot plus reboot=t makes a reboot() in the
/// guest end QEMU (power-off does not work on microvm without ACPI); panic=-1 turns a panic into that same exit.
/// The console is the 16550 UART (ttyS0): it exists from early boot, so /dev/console is ready when /init starts.
/// A virtconsole (hvc0) is not: virtio-serial ports are added from a workqueue after the host's control
/// messages, which can be after the kernel opened /dev/console for init (init then has no stdio) and drops
/// every kernel message printed before it. Named ports show up in /sys/class/virtio-ports/*/name.
/// tsc_early_khz: TCG's TSC runs at the host's rate but the guest often fails to calibrate it (no HPET or
/// PM timer) and marks it unstable; passing the host rate keeps the TSC clocksource.
/// </summary>
public static class MicrovmRunner
{
    public sealed record BootResult(int ExitCode, string Console, TimeSpan? MarkerAfter, TimeSpan Elapsed, bool TimedOut);

    /// <summary>The host TSC rate from /proc/cpuinfo ("cpu MHz"), or null when it cannot be read.</summary>
    public static long? HostTscKhz()
    {
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu MHz", StringComparison.Ordinal));
        return line is not null && double.TryParse(line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz)
            ? (long)(mhz * 1000)
            : null;
    }

    public static string KernelCommandLine()
    {
        var khz = HostTscKhz();
        return "console=ttyS0 acpi=off reboot=t panic=-1 quiet" + (khz is null ? string.Empty : $" tsc_early_khz={khz}");
    }

    public static async Task<BootResult> BootAsync(string kernel, string initramfs, string marker, IEnumerable<string>? extraDevices = null, int cpus = 1, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            "-M", "microvm,acpi=off,rtc=on", "-accel", "tcg", "-cpu", "max", "-m", "256M", "-smp", cpus.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-kernel", kernel, "-initrd", initramfs, "-append", KernelCommandLine(),
            "-chardev", "stdio,id=console", "-serial", "chardev:console",
            "-device", "virtio-serial-device",
            .. extraDevices ?? [],
        ];
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var console = new StringBuilder();
        TimeSpan? markerAfter = null;
        var gate = new object();
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                console.AppendLine(line);
                if (markerAfter is null && line.Contains(marker, StringComparison.Ordinal))
                {
                    markerAfter = clock.Elapsed;
                }
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(120));
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        lock (gate)
        {
            return new BootResult(timedOut ? -1 : process.ExitCode, console.ToString(), markerAfter, clock.Elapsed, timedOut);
        }
    }
}
