using System.Diagnostics;
using LightVM.Testing;

namespace LightVM.Toolstack.Tests;

/// <summary>
/// The guest for boot tests: the Tinyx kernel (built by the guest-image work; path from LIGHTVM_TEST_KERNEL or a
/// known cache) and an initramfs holding only Guest/test-init.c, compiled here with gcc -static.
/// </summary>
public sealed class TestGuest : IDisposable
{
    private static readonly string[] KernelCandidates =
    [
        "/var/cache/lightvm/vmlinux",
        "/var/tmp/lightvm-toolstack/vmlinux",
        "/tmp/kx/linux-source-6.1/vmlinux",
    ];

    private readonly TempDirectory _dir = new("lvguest");

    public TestGuest()
    {
        Kernel = FindKernel();
        var root = _dir.Combine("root");
        Directory.CreateDirectory(root);
        Run("gcc", root, "-static", "-O2", "-o", Path.Combine(root, "init"), Path.Combine(AppContext.BaseDirectory, "Guest", "test-init.c"));
        Initrd = _dir.Combine("initrd.cpio");
        Run("sh", root, "-c", $"echo init | cpio -o -H newc --quiet > '{Initrd}'");
    }

    /// <summary>The kernel, or null when none was found (boot tests then fail saying so).</summary>
    public string? Kernel { get; }

    public string Initrd { get; }

    /// <summary>Toolstack options for this guest: TCG, small, quick to time out.</summary>
    public ToolstackOptions Options(AccelMode accel = AccelMode.Tcg) => new()
    {
        Kernel = Kernel ?? throw new InvalidOperationException(
            "no guest kernel: set LIGHTVM_TEST_KERNEL to a Tinyx vmlinux (PVH ELF, virtio-mmio, 9p) or build one into " +
            string.Join(" or ", KernelCandidates)),
        Initrd = Initrd,
        Accel = accel,
        BootTimeoutSeconds = 30,
        KvmProbeTimeoutSeconds = 10,
    };

    public void Dispose() => _dir.Dispose();

    private static string? FindKernel()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("LIGHTVM_TEST_KERNEL");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        return KernelCandidates.FirstOrDefault(File.Exists);
    }

    private static void Run(string file, string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {errors}");
        }
    }
}

[CollectionDefinition("Qemu")]
public sealed class QemuCollection : ICollectionFixture<TestGuest>;
