using System.Diagnostics;
using LightVM.Testing;
using LightVM.Toolstack.Qemu;

namespace LightVM.Toolstack.Tests;

/// <summary>Real boots of the Tinyx kernel under QEMU TCG with the test init as the guest agent.</summary>
[Collection("Qemu")]
[Trait("Category", "Qemu")]
public sealed class QemuBackendTests(TestGuest guest) : IDisposable
{
    private readonly TempDirectory _runRoot = new("lvrun");
    private readonly TestLoggerFactory _logs = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));

    private CancellationToken Ct => _timeout.Token;

    private string VmsRoot => _runRoot.Combine("vms");

    public void Dispose()
    {
        _timeout.Dispose();
        RunRootCleanup.Run(_runRoot.Path);
        _runRoot.Dispose();
    }

    [Fact]
    public async Task PrepareAsync_TinyxGuest_AgentStreamEchoesAndStopRemovesEverything()
    {
        var backend = Backend();

        var vm = await backend.PrepareAsync(new VmShape(1, 128), Ct);

        Assert.Equal(VmState.Running, vm.State);
        var info = vm.Describe();
        Assert.Equal("tcg", info.Accel);
        Assert.True(info.VmmPid > 0);
        Assert.True(info.BootDuration > TimeSpan.Zero);
        Assert.True(Directory.Exists(info.RunDirectory));
        await using (var agent = await vm.OpenAgentStreamAsync(Ct))
        {
            Assert.Equal("hello", await AgentLines.AskAsync(agent, "hello", Ct));
        }

        // The channel reconnects: a second stream works after the first closed.
        await using (var agent = await vm.OpenAgentStreamAsync(Ct))
        {
            Assert.Equal("again", await AgentLines.AskAsync(agent, "again", Ct));
        }

        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.Equal(VmState.Exited, vm.State);
        Assert.False(IsProcessAlive(info.VmmPid));
        Assert.False(Directory.Exists(info.RunDirectory));
        Assert.Equal("stopped by request", (await vm.Exited.WaitAsync(Ct)).Reason);
        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct); // idempotent
    }

    [Fact]
    public async Task PrepareInBackgroundAsync_BootsNicedThenEveryVmmThreadBackAtNormalPriority()
    {
        // The probe runs while the VM boots: it reads the nice values of the one VMM under this run root.
        IReadOnlyList<int>? duringBoot = null;
        AgentProbe probe = async (stream, ct) =>
        {
            var pidFile = Directory.GetFiles(VmsRoot, "qemu.pid", SearchOption.AllDirectories).Single();
            duringBoot ??= ThreadNiceValues(int.Parse(await File.ReadAllTextAsync(pidFile, ct), System.Globalization.CultureInfo.InvariantCulture));
            await AgentProbes.FirstLine(stream, ct);
        };
        // The warm-up runs once, after the probe, on a live agent stream, and only for background boots.
        var warmUps = 0;
        AgentProbe warmUp = async (stream, ct) =>
        {
            Assert.Equal("warm", await AgentLines.AskAsync(stream, "warm", ct));
            Interlocked.Increment(ref warmUps);
        };
        var backend = new QemuBackend(guest.Options(), _runRoot.Path, probe, _logs, warmUp);

        var vm = await backend.PrepareInBackgroundAsync(new VmShape(1, 128), Ct);
        try
        {
            Assert.Equal(1, warmUps);
            Assert.Contains(_logs.Entries, e => e.Id.Id == 5014 && e.Message.Contains(vm.Id, StringComparison.Ordinal));
            Assert.NotNull(duringBoot);
            Assert.All(duringBoot, nice => Assert.Equal(10, nice));
            Assert.All(ThreadNiceValues(vm.Describe().VmmPid), nice => Assert.Equal(0, nice));
            Assert.Contains(_logs.Entries, e => e.Id.Id == 5012 && e.Message.Contains(vm.Id, StringComparison.Ordinal));
        }
        finally
        {
            await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
        }

        // A request's boot is never niced.
        var cold = await backend.PrepareAsync(new VmShape(1, 128), Ct);
        Assert.All(ThreadNiceValues(cold.Describe().VmmPid), nice => Assert.Equal(0, nice));
        Assert.Equal(1, warmUps);
        await cold.StopAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task PrepareInBackgroundAsync_WarmUpFails_PrepareFailsWithItsMessageAndLeavesNothing()
    {
        var attempts = 0;
        AgentProbe warmUp = (_, _) =>
        {
            Interlocked.Increment(ref attempts);
            throw new InvalidOperationException("the guest cannot run containers");
        };
        var backend = new QemuBackend(guest.Options(), _runRoot.Path, AgentProbes.FirstLine, _logs, warmUp);

        var error = await Assert.ThrowsAsync<ToolstackException>(() => backend.PrepareInBackgroundAsync(new VmShape(1, 128), Ct));

        Assert.Equal(1, attempts); // not retried like the readiness probe: the agent already answered
        Assert.Contains("warm up the guest: the guest cannot run containers", error.Message, StringComparison.Ordinal);
        AssertNothingLeft();

        // Off in the options: never run.
        var off = guest.Options();
        off.BackgroundWarmUp = false;
        var vm = await new QemuBackend(off, _runRoot.Path, AgentProbes.FirstLine, _logs, warmUp).PrepareInBackgroundAsync(new VmShape(1, 128), Ct);
        Assert.Equal(1, attempts);
        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
    }

    [Fact]
    public async Task Exited_VmmKilledFromOutside_FiresWithReason()
    {
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        var pid = vm.Describe().VmmPid;

        Process.GetProcessById(pid).Kill();
        var exit = await vm.Exited.WaitAsync(TimeSpan.FromSeconds(15), Ct);

        Assert.Contains("unexpectedly", exit.Reason, StringComparison.Ordinal);
        Assert.Equal(VmState.Exited, vm.State);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5004 && e.Message.Contains(vm.Id, StringComparison.Ordinal));
        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(Directory.Exists(vm.Describe().RunDirectory));
    }

    [Fact]
    public async Task Exited_GuestInitDies_FiresWithGuestReason()
    {
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        await using (var agent = await vm.OpenAgentStreamAsync(Ct))
        {
            await agent.WriteAsync("exit\n"u8.ToArray(), Ct);
        }

        var exit = await vm.Exited.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal("guest rebooted (reboot exits the VM)", exit.Reason);
        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(Directory.Exists(vm.Describe().RunDirectory));
    }

    [Fact]
    public async Task AttachShareAsync_AfterBoot_GuestSeesHostFilesAndDetachKeepsThem()
    {
        using var podDir = new TempDirectory("lvpod");
        await File.WriteAllTextAsync(podDir.Combine("from-host.txt"), "x", Ct);
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        try
        {
            var guestPath = await vm.AttachShareAsync(podDir.Path, "pod", readOnly: false, Ct);

            await using (var agent = await vm.OpenAgentStreamAsync(Ct))
            {
                Assert.Equal("from-host.txt", (await AgentLines.AskAsync(agent, "ls " + guestPath, Ct)).Trim());
            }

            await vm.DetachShareAsync("pod", Ct);
            Assert.True(File.Exists(podDir.Combine("from-host.txt")));
            Assert.False(Directory.Exists(Path.Combine(vm.Describe().RunDirectory, "share", "pod")));
        }
        finally
        {
            await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
        }
    }

    [Fact]
    public async Task StopAsync_ReadOnlyShareStillAttached_UnmountsFirstAndKeepsHostFiles()
    {
        using var podDir = new TempDirectory("lvpod");
        await File.WriteAllTextAsync(podDir.Combine("keep.txt"), "x", Ct);
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        await vm.AttachShareAsync(podDir.Path, "pod", readOnly: true, Ct);
        var throughShare = Path.Combine(vm.Describe().RunDirectory, "share", "pod", "new.txt");
        Assert.ThrowsAny<IOException>(() => File.WriteAllText(throughShare, "x")); // read-only even for root

        await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);

        Assert.True(File.Exists(podDir.Combine("keep.txt")));
        Assert.False(Directory.Exists(vm.Describe().RunDirectory));
    }

    [Fact]
    public async Task AttachShareAsync_MissingHostDirectory_InvalidArgument()
    {
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        try
        {
            var e = await Assert.ThrowsAsync<ToolstackException>(() => vm.AttachShareAsync("/nonexistent/dir", "pod", false, Ct));

            Assert.Equal(ToolstackErrorKind.InvalidArgument, e.Kind);
            Assert.Contains(vm.Id, e.Message, StringComparison.Ordinal);
            Assert.Contains("/nonexistent/dir", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            await vm.StopAsync(TimeSpan.FromSeconds(5), Ct);
        }
    }

    [Fact]
    public async Task PrepareAsync_MissingKernel_FailedPreconditionAndNothingLeft()
    {
        var options = guest.Options();
        options.Kernel = "/nonexistent/vmlinux";

        var e = await Assert.ThrowsAsync<ToolstackException>(() => Backend(options).PrepareAsync(new VmShape(1, 128), Ct));

        Assert.Equal(ToolstackErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("toolstack.kernel /nonexistent/vmlinux", e.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task PrepareAsync_AgentNeverReady_DeadlineExceededAndNothingLeft()
    {
        var options = guest.Options();
        options.BootTimeoutSeconds = 4;
        var backend = new QemuBackend(options, _runRoot.Path, (_, ct) => Task.Delay(Timeout.Infinite, ct), _logs);

        var e = await Assert.ThrowsAsync<ToolstackException>(() => backend.PrepareAsync(new VmShape(1, 128), Ct));

        Assert.Equal(ToolstackErrorKind.DeadlineExceeded, e.Kind);
        Assert.Contains("wait for the agent", e.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task PrepareAsync_LauncherFails_FailedPreconditionAndNothingLeft()
    {
        var options = guest.Options();
        options.QemuBinary = "/bin/false";

        var e = await Assert.ThrowsAsync<ToolstackException>(() => Backend(options).PrepareAsync(new VmShape(1, 128), Ct));

        Assert.Equal(ToolstackErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("start QEMU: exit code 1", e.Message, StringComparison.Ordinal);
        AssertNothingLeft();
    }

    [Fact]
    public async Task RecoverAsync_NewBackendFromRecord_ReattachesAndStops()
    {
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        var record = vm.Record;
        await vm.DisposeAsync(); // the old daemon goes away; the VMM stays

        var recovered = await Backend().RecoverAsync(record, Ct);

        Assert.Equal(record.VmmPid, recovered.Describe().VmmPid);
        await using (var agent = await recovered.OpenAgentStreamAsync(Ct))
        {
            Assert.Equal("still here", await AgentLines.AskAsync(agent, "still here", Ct));
        }

        await recovered.StopAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(IsProcessAlive(record.VmmPid));
        var e = await Assert.ThrowsAsync<ToolstackException>(() => Backend().RecoverAsync(record, Ct));
        Assert.Equal(ToolstackErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public async Task RecoverAsync_VmmDiedWhileDaemonDown_ExitedWithReasonAndStopCleansUp()
    {
        var vm = await Backend().PrepareAsync(new VmShape(1, 128), Ct);
        var record = vm.Record;
        await vm.DisposeAsync();
        Process.GetProcessById(record.VmmPid).Kill();
        await WaitGoneAsync(record.VmmPid);

        var recovered = await Backend().RecoverAsync(record, Ct);

        Assert.Equal(VmState.Exited, recovered.State);
        Assert.Contains("exited while the daemon was down", (await recovered.Exited).Reason, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<ToolstackException>(() => recovered.OpenAgentStreamAsync(Ct));
        Assert.Equal(ToolstackErrorKind.FailedPrecondition, e.Kind);
        await recovered.StopAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.False(Directory.Exists(record.RunDirectory));
    }

    [Fact]
    public async Task ResolveAccelAsync_AutoOnHostWithoutWorkingKvm_FallsBackToTcgAndLogsWhy()
    {
        var backend = Backend(guest.Options(AccelMode.Auto));

        var choice = await backend.ResolveAccelAsync(Ct);

        // This machine's /dev/kvm is PVM (or absent): a stock guest cannot boot on it.
        Assert.Equal("tcg", choice.Accel);
        Assert.True(choice.FellBack);
        if (File.Exists("/dev/kvm"))
        {
            // Either QEMU's own error or, for a guest that hangs under KVM, the limit that ended the wait by name.
            Assert.StartsWith("test boot under KVM", choice.Reason, StringComparison.Ordinal);
            Assert.True(choice.Reason.StartsWith("test boot under KVM failed: ", StringComparison.Ordinal)
                || choice.Reason.Contains("within 10 s (toolstack.kvm_probe_timeout_seconds)", StringComparison.Ordinal), choice.Reason);
        }

        Assert.Contains(_logs.Entries, e => e.Id.Id == 5006 && e.Message.Contains("falling back to TCG", StringComparison.Ordinal));
        Assert.Same(choice, await backend.ResolveAccelAsync(Ct)); // cached
        AssertNothingLeft();
    }

    /// <summary>The nice value of each thread of <paramref name="pid"/> (field 19 of /proc/pid/task/tid/stat).</summary>
    private static List<int> ThreadNiceValues(int pid)
    {
        var values = new List<int>();
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            var stat = File.ReadAllText(Path.Combine(task, "stat"));
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields[0] is field 3 (state)
            values.Add(int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture));
        }

        return values;
    }

    private QemuBackend Backend(ToolstackOptions? options = null) =>
        new(options ?? guest.Options(), _runRoot.Path, AgentProbes.FirstLine, _logs);

    private void AssertNothingLeft()
    {
        Assert.True(!Directory.Exists(VmsRoot) || Directory.GetFileSystemEntries(VmsRoot).Length == 0,
            "left behind: " + (Directory.Exists(VmsRoot) ? string.Join(", ", Directory.GetFileSystemEntries(VmsRoot)) : ""));
        var survivors = Directory.GetDirectories("/proc")
            .Select(d => Path.Combine(d, "cmdline"))
            .Where(File.Exists)
            .Select(f => { try { return File.ReadAllText(f); } catch (IOException) { return ""; } })
            .Where(c => c.Contains(_runRoot.Path, StringComparison.Ordinal))
            .ToList();
        Assert.Empty(survivors);
    }

    private static async Task WaitGoneAsync(int pid)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (IsProcessAlive(pid))
        {
            Assert.True(DateTime.UtcNow < deadline, $"pid {pid} did not die");
            await Task.Delay(20);
        }
    }

    private static bool IsProcessAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }
}
