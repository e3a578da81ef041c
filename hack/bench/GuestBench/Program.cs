using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Protos.Agent.V1;

// Usage: GuestBench <vmlinux> <initramfs> <runs> <mem> <smp> <kernel cmdline>
// Boots the guest <runs> times, QEMU microvm under TCG with the agent's virtio-serial port on a unix socket. Per boot
// prints "boot I MS": milliseconds from starting QEMU to the agent's answer to a Ping over that port (the host
// client connects as soon as QEMU has created the socket; the handshake waits for the agent). Then asks for Stats
// and Shutdown and waits for QEMU to exit (the cmdline should carry lightvm.halt=reboot: microvm has no ACPI
// power-off, and -no-reboot turns the reboot into an exit). Last prints "rss BYTES", the largest agent RSS seen.
if (args is not [var kernel, var initramfs, var runsText, var memory, var smp, var cmdline]
    || !int.TryParse(runsText, CultureInfo.InvariantCulture, out var runs) || runs < 1)
{
    Console.Error.WriteLine("usage: GuestBench <vmlinux> <initramfs> <runs> <mem> <smp> <kernel cmdline>");
    return 2;
}

foreach (var file in new[] { kernel, initramfs })
{
    if (!File.Exists(file))
    {
        Console.Error.WriteLine($"GuestBench: {file} does not exist");
        return 2;
    }
}

ulong rss = 0;
for (var i = 1; i <= runs; i++)
{
    var (milliseconds, agentRss) = await BootAsync(kernel, initramfs, memory, smp, cmdline, i);
    rss = Math.Max(rss, agentRss);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"boot {i} {milliseconds}"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rss {rss}"));
return 0;

static async Task<(long Milliseconds, ulong AgentRss)> BootAsync(
    string kernel, string initramfs, string memory, string smp, string cmdline, int run)
{
    var directory = Directory.CreateTempSubdirectory("lightvm-bench-guest-").FullName;
    var socketPath = Path.Combine(directory, "agent.sock");
    var consoleLog = Path.Combine(directory, "console.log");
    var start = new ProcessStartInfo("qemu-system-x86_64") { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var arg in new[]
    {
        "-M", "microvm,acpi=off,rtc=on", "-accel", "tcg", "-cpu", "max", "-m", memory, "-smp", smp,
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", kernel, "-initrd", initramfs, "-append", cmdline,
        "-serial", $"file:{consoleLog}",
        "-device", "virtio-serial-device",
        "-chardev", $"socket,id=agent,path={socketPath},server=on,wait=off",
        "-device", "virtserialport,chardev=agent,name=lightvm.agent",
    })
    {
        start.ArgumentList.Add(arg);
    }

    using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
    var started = Stopwatch.GetTimestamp();
    using var qemu = Process.Start(start) ?? throw new InvalidOperationException("cannot start qemu-system-x86_64");
    var stderr = qemu.StandardError.ReadToEndAsync(timeout.Token);
    _ = qemu.StandardOutput.ReadToEndAsync(timeout.Token);
    try
    {
        var options = new AgentClientOptions { Name = $"bench-{run}", HandshakeTimeout = TimeSpan.FromSeconds(60) };
        await using var client = new AgentClient(cancellationToken => ConnectAsync(socketPath, qemu, cancellationToken), options);
        var ping = await client.PingAsync(new PingRequest { Nonce = (ulong)run }, timeout.Token);
        var milliseconds = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (ping.Nonce != (ulong)run)
        {
            throw new InvalidOperationException($"agent answered ping {run} with nonce {ping.Nonce}");
        }

        var stats = await client.StatsAsync(new StatsRequest(), timeout.Token);
        await client.ShutdownAsync(new ShutdownRequest(), timeout.Token);
        await qemu.WaitForExitAsync(timeout.Token);
        return (milliseconds, stats.Vm.AgentRssBytes);
    }
    catch (Exception e) when (e is AgentException or OperationCanceledException or InvalidOperationException)
    {
        if (!qemu.HasExited)
        {
            qemu.Kill();
            await qemu.WaitForExitAsync(CancellationToken.None);
        }

        var console = File.Exists(consoleLog) ? await File.ReadAllTextAsync(consoleLog, CancellationToken.None) : string.Empty;
        var qemuErrors = stderr.IsCompletedSuccessfully ? stderr.Result : string.Empty;
        throw new InvalidOperationException($"boot {run}: {e.Message}\nqemu stderr:\n{qemuErrors}\nguest console:\n{console}", e);
    }
    finally
    {
        Directory.Delete(directory, recursive: true);
    }
}

// QEMU creates the socket a few milliseconds after exec; retry until it does (or QEMU died).
static async ValueTask<Stream> ConnectAsync(string socketPath, Process qemu, CancellationToken cancellationToken)
{
    while (true)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
        {
            socket.Dispose();
            if (qemu.HasExited)
            {
                throw new InvalidOperationException($"qemu exited ({qemu.ExitCode}) before creating {socketPath}", e);
            }

            await Task.Delay(2, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
