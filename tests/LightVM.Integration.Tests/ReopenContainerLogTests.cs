using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>ReopenContainerLog after a rotation (rename): new output goes to a new file at the log path.</summary>
[Trait("Category", "Qemu")]
public sealed class ReopenContainerLogTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task ReopenContainerLog_AfterRename_NewOutputInNewFileNothingLostOrRepeated()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "reopen/busybox");
        var logDir = Path.Combine(dir.Path, "logs");
        var logPath = Path.Combine(logDir, "ticker", "0.log");
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("rotating", logDir) }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var containerId = (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = PodTestSupport.PodConfig("rotating", logDir),
            Config = new V1.ContainerConfig
            {
                Metadata = new V1.ContainerMetadata { Name = "ticker" },
                Image = new V1.ImageSpec { Image = image },
                Command = { "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done" },
                LogPath = "ticker/0.log",
            },
        }, deadline: PodTestSupport.Deadline())).ContainerId;

        // Created, not running: nothing to reopen.
        var early = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.ReopenContainerLogAsync(new V1.ReopenContainerLogRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.FailedPrecondition, early.StatusCode);
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.ReopenContainerLogAsync(new V1.ReopenContainerLogRequest { ContainerId = "feedface" }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline());
        await PodTestSupport.WaitForTickAsync(logPath, 3);
        var rotated = logPath + ".1";
        File.Move(logPath, rotated);
        await cri.Runtime.ReopenContainerLogAsync(new V1.ReopenContainerLogRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline());
        var newFirst = PodTestSupport.Ticks(File.Exists(logPath) ? File.ReadAllText(logPath) : string.Empty);
        await PodTestSupport.WaitForTickAsync(logPath, PodTestSupport.Ticks(File.ReadAllText(rotated)).Max() + 5);

        var old = PodTestSupport.Ticks(File.ReadAllText(rotated));
        var fresh = PodTestSupport.Ticks(File.ReadAllText(logPath));
        Assert.NotEmpty(fresh);
        Assert.True(newFirst.Count == 0 || newFirst[0] == old[^1] + 1, "the new file starts where the old one ended");
        Assert.Equal(Enumerable.Range(0, old.Count + fresh.Count), old.Concat(fresh));
        // The rotated file no longer grows.
        await Task.Delay(600);
        Assert.Equal(old, PodTestSupport.Ticks(File.ReadAllText(rotated)));

        await cri.Runtime.StopContainerAsync(new V1.StopContainerRequest { ContainerId = containerId, Timeout = 0 }, deadline: PodTestSupport.Deadline());
        var stopped = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.ReopenContainerLogAsync(new V1.ReopenContainerLogRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.FailedPrecondition, stopped.StatusCode);
        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }
}
