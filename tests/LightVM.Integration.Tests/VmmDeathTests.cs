using System.Diagnostics;
using System.Text.Json;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>A pod whose VMM dies under it (kill -9 of QEMU) goes NotReady and its running container Exited.</summary>
[Trait("Category", "Qemu")]
public sealed class VmmDeathTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task PodSandboxStatus_VmmKilled_PodNotReadyAndContainerExitedWithReason()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "vmmdeath/busybox");
        var logDir = Path.Combine(dir.Path, "logs");
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("doomed", logDir) }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var containerId = (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = PodTestSupport.PodConfig("doomed", logDir),
            Config = new V1.ContainerConfig
            {
                Metadata = new V1.ContainerMetadata { Name = "sleeper" },
                Image = new V1.ImageSpec { Image = image },
                Command = { "sleep", "600" },
                LogPath = "sleeper/0.log",
            },
        }, deadline: PodTestSupport.Deadline())).ContainerId;
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline());
        var status = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
        using var info = JsonDocument.Parse(status.Info["info"]);
        var vmmPid = info.RootElement.GetProperty("vm").GetProperty("vmmPid").GetInt32();

        Process.GetProcessById(vmmPid).Kill();

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        V1.PodSandboxStatusResponse pod;
        while ((pod = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline())).Status.State != V1.PodSandboxState.SandboxNotready)
        {
            Assert.True(DateTime.UtcNow < until, "pod still READY 30 s after its VMM was killed");
            await Task.Delay(100);
        }

        var container = (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline())).Status;
        Assert.Equal(V1.ContainerState.ContainerExited, container.State);
        Assert.Equal("VmmExited", container.Reason);
        Assert.StartsWith("VMM exited unexpectedly", container.Message, StringComparison.Ordinal);
        Assert.True(container.FinishedAt > 0);

        // The dead pod is still cleaned up the ordinary way.
        await cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods")));
    }
}
