using System.Text.Json;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>A daemon killed with SIGKILL leaves its pod VMs running; its successor reattaches to them.</summary>
[Trait("Category", "Qemu")]
public sealed class DaemonRestartTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task PodSandboxStatus_AfterDaemonKill9AndRestart_PodReadyExecWorksAndLogHasEachLineOnce()
    {
        using var dir = new TempDirectory();
        var logDir = Path.Combine(dir.Path, "logs");
        var logPath = Path.Combine(logDir, "ticker", "0.log");
        string podId;
        string containerId;
        int vmmPid;
        int beforeKill;
        // No pool in the first daemon: the test is about the pod VM, not idle pool VMs.
        await using (var first = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0))
        {
            using var cri = first.Connect();
            var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "restart/busybox");
            podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("survivor", logDir) }, deadline: PodTestSupport.Deadline())).PodSandboxId;
            containerId = (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
            {
                PodSandboxId = podId,
                SandboxConfig = PodTestSupport.PodConfig("survivor", logDir),
                Config = new V1.ContainerConfig
                {
                    Metadata = new V1.ContainerMetadata { Name = "ticker" },
                    Image = new V1.ImageSpec { Image = image },
                    Command = { "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done" },
                    LogPath = "ticker/0.log",
                },
            }, deadline: PodTestSupport.Deadline())).ContainerId;
            await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline());
            var status = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
            using var info = JsonDocument.Parse(status.Info["info"]);
            vmmPid = info.RootElement.GetProperty("vm").GetProperty("vmmPid").GetInt32();
            beforeKill = await PodTestSupport.WaitForTickAsync(logPath, 3);
            await first.StopAsync(signal: 9);
        }

        Assert.True(Directory.Exists($"/proc/{vmmPid}"), "the pod VM outlives a killed daemon");
        // Output the container writes while no daemon runs must reach the log once the next one resumes.
        await Task.Delay(TimeSpan.FromSeconds(3));
        var whileDown = PodTestSupport.Ticks(File.ReadAllText(logPath)).Max();

        await using var second = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var again = second.Connect();
        var reloaded = await again.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Equal(V1.PodSandboxState.SandboxReady, reloaded.Status.State);
        var container = (await again.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline())).Status;
        Assert.Equal(V1.ContainerState.ContainerRunning, container.State);
        var echo = await again.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = containerId, Cmd = { "echo", "still here" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal(0, echo.ExitCode);
        Assert.Equal("still here\n", echo.Stdout.ToStringUtf8());

        // Lines from before the kill, from the gap (at least ~9 of them) and after: each exactly once, in order.
        await PodTestSupport.WaitForTickAsync(logPath, whileDown + 15);
        var ticks = PodTestSupport.Ticks(File.ReadAllText(logPath));
        Assert.True(beforeKill >= 3 && whileDown - beforeKill < 5, $"the first daemon stopped writing at once (last tick {beforeKill}, {whileDown} after the kill)");
        Assert.Equal(Enumerable.Range(0, ticks.Count), ticks);

        await again.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        await PodTestSupport.WaitGoneAsync(vmmPid);
        await again.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods")));
    }

    [Fact]
    public async Task Start_AfterDaemonKill9WithPoolVm_OrphanedPoolVmStopped()
    {
        using var dir = new TempDirectory();
        var vms = Path.Combine(dir.Path, "run", "vms");
        int orphanPid;
        string orphanDir;
        await using (var first = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 1))
        {
            (orphanDir, orphanPid) = await WaitForPoolVmAsync(vms);
            await first.StopAsync(signal: 9);
        }

        Assert.True(Directory.Exists($"/proc/{orphanPid}"), "the idle pool VM outlives a killed daemon");
        await using var second = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var cri = second.Connect();
        // Served once start-up work (recovery and orphan cleanup) is done.
        await cri.Runtime.ListPodSandboxAsync(new V1.ListPodSandboxRequest(), deadline: PodTestSupport.Deadline());
        await PodTestSupport.WaitGoneAsync(orphanPid);
        Assert.False(Directory.Exists(orphanDir), $"{orphanDir} removed with its VM");
    }

    /// <summary>The first VM under <paramref name="vms"/> whose VMM wrote its pid file.</summary>
    private static async Task<(string RunDirectory, int Pid)> WaitForPoolVmAsync(string vms)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            foreach (var runDirectory in Directory.Exists(vms) ? Directory.GetDirectories(vms) : [])
            {
                var pidFile = Path.Combine(runDirectory, "qemu.pid");
                if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture, out var pid) && pid > 0)
                {
                    // Let the boot finish, so the orphan is a ready pool VM, not one in the middle of starting.
                    await Task.Delay(TimeSpan.FromSeconds(3));
                    return (runDirectory, pid);
                }
            }

            Assert.True(DateTime.UtcNow < until, "the pool prepared no VM in 60 s");
            await Task.Delay(100);
        }
    }
}
