using System.Text.Json;
using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>
/// Pods as QEMU microVMs (TCG) through the real daemon: pull, run a pod, a container with CRI logs, exec, stop and
/// remove, checking the host side (VMM process, directories, records) after each step.
/// </summary>
[Trait("Category", "Qemu")]
public sealed class PodLifecycleTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task RunPodSandbox_BusyboxContainer_LogsExecStopAndRemoveLeaveNothing()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "pods/busybox");
        var logDir = Path.Combine(dir.Path, "logs");

        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("web", logDir) }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var podStatus = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
        Assert.Equal(V1.PodSandboxState.SandboxReady, podStatus.Status.State);
        using var info = JsonDocument.Parse(podStatus.Info["info"]);
        var vmmPid = info.RootElement.GetProperty("vm").GetProperty("vmmPid").GetInt32();
        var vmRunDir = info.RootElement.GetProperty("vm").GetProperty("runDirectory").GetString()!;
        Assert.True(Directory.Exists($"/proc/{vmmPid}"), "the pod's VMM process runs");
        var podDir = Path.Combine(dir.Path, "state", "pods", podId);
        Assert.True(Directory.Exists(podDir));

        // A unique prefix resolves.
        var byPrefix = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId[..8] }, deadline: PodTestSupport.Deadline());
        Assert.Equal(podId, byPrefix.Status.Id);

        var create = new V1.CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = PodTestSupport.PodConfig("web", logDir),
            Config = new V1.ContainerConfig
            {
                Metadata = new V1.ContainerMetadata { Name = "hello" },
                Image = new V1.ImageSpec { Image = image },
                Command = { "sh", "-c", "echo hello; trap 'exit 7' TERM; sleep 600 & wait" },
                LogPath = "hello/0.log",
            },
        };
        var containerId = (await cri.Runtime.CreateContainerAsync(create, deadline: PodTestSupport.Deadline())).ContainerId;
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline());

        var logPath = Path.Combine(logDir, "hello", "0.log");
        var log = await PodTestSupport.WaitForLogAsync(logPath, l => l.Contains("stdout F hello\n", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "hello line");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z stdout F hello\n", log);

        var echo = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = containerId, Cmd = { "echo", "from exec" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal(0, echo.ExitCode);
        Assert.Equal("from exec\n", echo.Stdout.ToStringUtf8());
        var three = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = containerId, Cmd = { "sh", "-c", "echo out; echo err >&2; exit 3" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal(3, three.ExitCode);
        Assert.Equal("out\n", three.Stdout.ToStringUtf8());
        Assert.Equal("err\n", three.Stderr.ToStringUtf8());
        var slow = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = containerId, Cmd = { "sleep", "30" }, Timeout = 1 }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.DeadlineExceeded, slow.StatusCode);

        await cri.Runtime.StopContainerAsync(new V1.StopContainerRequest { ContainerId = containerId, Timeout = 10 }, deadline: PodTestSupport.Deadline());
        var stopped = (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline())).Status;
        Assert.Equal(V1.ContainerState.ContainerExited, stopped.State);
        Assert.Equal(7, stopped.ExitCode);
        Assert.Equal("Error", stopped.Reason);
        Assert.Equal(logPath, stopped.LogPath);
        Assert.True(stopped.FinishedAt >= stopped.StartedAt && stopped.StartedAt > 0);

        await cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        await PodTestSupport.WaitGoneAsync(vmmPid);
        var notReady = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Equal(V1.PodSandboxState.SandboxNotready, notReady.Status.State);
        await cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.False(Directory.Exists(podDir), "pod directory removed");
        Assert.False(Directory.Exists(vmRunDir), "VM run directory removed");
        Assert.Empty((await cri.Runtime.ListPodSandboxAsync(new V1.ListPodSandboxRequest(), deadline: PodTestSupport.Deadline())).Items);
        Assert.Empty((await cri.Runtime.ListContainersAsync(new V1.ListContainersRequest(), deadline: PodTestSupport.Deadline())).Containers);
        var gone = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = containerId }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task RunPodSandbox_DuplicateName_AlreadyExistsAndNothingLeftBehind()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("twin", string.Empty) }, deadline: PodTestSupport.Deadline())).PodSandboxId;

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("twin", string.Empty) }, deadline: PodTestSupport.Deadline()));

        Assert.Equal(StatusCode.AlreadyExists, e.StatusCode);
        Assert.Contains("twin", e.Status.Detail, StringComparison.Ordinal);
        Assert.Equal([podId], (await cri.Runtime.ListPodSandboxAsync(new V1.ListPodSandboxRequest(), deadline: PodTestSupport.Deadline())).Items.Select(p => p.Id));
        Assert.Equal([podId], Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods")).Select(Path.GetFileName));
        var missingImage = await Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
        {
            PodSandboxId = podId,
            Config = new V1.ContainerConfig { Metadata = new V1.ContainerMetadata { Name = "c" }, Image = new V1.ImageSpec { Image = "nowhere/none:1" } },
        }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.NotFound, missingImage.StatusCode);
        Assert.Contains("nowhere/none:1", missingImage.Status.Detail, StringComparison.Ordinal);

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods")));
        var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = "0000000000" }, deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }
}
