using System.Diagnostics;
using System.Net.Sockets;
using LightVM.Agent.Protocol.Client;

namespace LightVM.Agent.Tests.Agent;

/// <summary>Runs only when LIGHTVM_TEST_KERNEL names a guest kernel (PVH ELF, virtio-mmio, virtio console).</summary>
public sealed class QemuFactAttribute : FactAttribute
{
    public QemuFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("LIGHTVM_TEST_KERNEL") is not { Length: > 0 } kernel || !File.Exists(kernel))
        {
            Skip = "set LIGHTVM_TEST_KERNEL to a guest kernel image to boot the agent under QEMU";
        }
    }
}

/// <summary>
/// A QEMU microvm (TCG) booting the guest image - the Tinyx initramfs from LIGHTVM_TEST_INITRD (hack/build-guest.sh;
/// CI sets it), or, for a quick local run, one packed here with the same layout - with the agent's virtio-serial
/// port on a unix socket and a host directory shared over virtio-9p (tag <c>lightvm.share</c>) holding a busybox
/// rootfs at <c>rootfs/</c>, as the runtime shares container rootfs.
/// </summary>
internal sealed class QemuGuest : IAsyncDisposable
{
    private readonly Process _qemu;

    private QemuGuest(Process qemu, string directory)
    {
        _qemu = qemu;
        Directory = directory;
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "agent.sock");

    public string ConsoleLog => File.Exists(Path.Combine(Directory, "console.log")) ? File.ReadAllText(Path.Combine(Directory, "console.log")) : string.Empty;

    public bool HasExited => _qemu.HasExited;

    /// <summary>The 9p mount tag of the shared directory.</summary>
    public const string ShareTag = "lightvm.share";

    /// <summary>The host directory shared into the guest.</summary>
    public string ShareDirectory => Path.Combine(Directory, "share");

    public static async Task<QemuGuest> BootAsync(string binaries)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("lightvm-qemu-").FullName;
        AgentFixture.CreateRootfs(Path.Combine(directory, "share", "rootfs"));
        var initramfs = Environment.GetEnvironmentVariable("LIGHTVM_TEST_INITRD") is { Length: > 0 } built
            ? built
            : await PackInitramfsAsync(binaries, directory);

        var start = new ProcessStartInfo("qemu-system-x86_64") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[]
        {
            "-M", "microvm,acpi=off,rtc=on", "-accel", "tcg", "-cpu", "max", "-m", "256", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", Environment.GetEnvironmentVariable("LIGHTVM_TEST_KERNEL")!, "-initrd", initramfs,
            "-append", "console=ttyS0 reboot=t panic=-1 lightvm.halt=reboot",
            "-serial", $"file:{Path.Combine(directory, "console.log")}",
            "-device", "virtio-serial-device",
            "-chardev", $"socket,id=agent,path={Path.Combine(directory, "agent.sock")},server=on,wait=off",
            "-device", "virtserialport,chardev=agent,name=lightvm.agent",
            "-fsdev", $"local,id=share,path={Path.Combine(directory, "share")},security_model=none,multidevs=remap",
            "-device", $"virtio-9p-device,fsdev=share,mount_tag={ShareTag}",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var guest = new QemuGuest(Process.Start(start)!, directory);
        for (var i = 0; i < 100 && !File.Exists(guest.SocketPath); i++)
        {
            await Task.Delay(100);
        }

        return guest;
    }

    public AgentClient CreateClient(TimeSpan? handshakeTimeout = null) => new(
        async cancellationToken =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        },
        new AgentClientOptions { Name = "qemu-test", HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(60), KeepAliveInterval = TimeSpan.FromSeconds(1) });

    public Task WaitForExitAsync(TimeSpan timeout) => _qemu.WaitForExitAsync().WaitAsync(timeout);

    private static async Task<string> PackInitramfsAsync(string binaries, string directory)
    {
        var root = Path.Combine(directory, "root");
        Copy(Path.Combine(binaries, "lightvm-init"), Path.Combine(root, "init"));
        Copy(Path.Combine(binaries, "lightvm-agent"), Path.Combine(root, "usr/bin/lightvm-agent"));
        Copy(Path.Combine(binaries, "lightvm-exec"), Path.Combine(root, "usr/libexec/lightvm/lightvm-exec"));
        foreach (var library in await LibrariesAsync(Path.Combine(binaries, "lightvm-agent")))
        {
            Copy(library, Path.Combine(root, library.TrimStart('/')));
        }

        var initramfs = Path.Combine(directory, "initramfs.cpio.gz");
        await RunAsync("/bin/sh", "-c", $"cd '{root}' && find . | cpio -o -H newc --quiet | gzip -1 > '{initramfs}'");
        return initramfs;
    }

    private static void Copy(string source, string destination)
    {
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        File.Copy(source, destination, overwrite: true);
    }

    /// <summary>The agent's shared libraries, by ldd (the guest image resolves them with lightvm-tinyx).</summary>
    private static async Task<IEnumerable<string>> LibrariesAsync(string binary)
    {
        var output = await RunAsync("ldd", binary);
        return output.Split('\n')
            .Select(line => line.Trim().Split(' '))
            .Select(parts => parts.Length >= 3 && parts[1] == "=>" ? parts[2] : parts[0])
            .Where(path => path.StartsWith('/'));
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0 ? stdout : throw new InvalidOperationException($"{file} failed: {stderr}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_qemu.HasExited)
        {
            _qemu.Kill();
            await _qemu.WaitForExitAsync();
        }

        _qemu.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
