using LightVM.Toolstack;

namespace LightVM.Cri.Services;

/// <summary>
/// RuntimeReady needs what every pod VM boots from: the guest kernel, its initramfs and the VMM binary. Checked on
/// each Status call, so a guest image built after the daemon started turns the runtime ready without a restart.
/// </summary>
internal sealed class GuestImageCheck(ToolstackOptions options) : IReadinessCheck
{
    public string Name => "vm-backend";

    public (string Reason, string Message)? Check()
    {
        if (!File.Exists(options.Kernel))
        {
            return ("GuestKernelMissing", $"toolstack.kernel: guest kernel {options.Kernel} does not exist (build it with hack/build-guest.sh)");
        }

        if (!File.Exists(options.Initrd))
        {
            return ("GuestInitrdMissing", $"toolstack.initrd: guest initramfs {options.Initrd} does not exist (build it with hack/build-guest.sh)");
        }

        return FindBinary(options.QemuBinary) is null
            ? ("VmmMissing", $"toolstack.qemu_binary: {options.QemuBinary} is not an executable file or on PATH")
            : null;
    }

    private static string? FindBinary(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(name) ? name : null;
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);
    }
}
