using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>Who the container runs as, a read-only rootfs and the image's stop signal, observed inside the VM.</summary>
[Trait("Category", "Qemu")]
public sealed class ContainerIdentityTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task CreateContainer_ImageUserSecurityContextAndStopSignal_AppliedInGuest()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var users = new LayerBuilder()
            .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
            .File("etc/group", "root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n");
        await registry.Pusher.PushAsync("identity/app", "latest",
            new OciImageBuilder(BusyboxImage.Rootfs().Build(LayerCompression.Gzip), users.Build(LayerCompression.Gzip)) { User = "app", StopSignal = "SIGUSR1" }.Build());
        var image = $"{registry.Host}/identity/app:latest";
        await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = new V1.ImageSpec { Image = image } }, deadline: PodTestSupport.Deadline());
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("identity", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;

        // The image's user, its groups from the image's /etc/group, plus a supplemental group; the image's stop signal.
        var app = await StartAsync(cri, podId, image, "app", new V1.LinuxContainerSecurityContext { SupplementalGroups = { 3000 } },
            "trap 'exit 7' USR1; while true; do sleep 1; done");
        Assert.Equal("1000\n1000\n1000 2000 3000\n", await ExecAsync(cri, app, "id -u; id -g; id -G"));
        var user = (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = app }, deadline: PodTestSupport.Deadline())).Status.User.Linux;
        Assert.Equal((1000L, 1000L), (user.Uid, user.Gid));
        Assert.Equal([2000L, 3000L], user.SupplementalGroups);
        await cri.Runtime.StopContainerAsync(new V1.StopContainerRequest { ContainerId = app, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal(7, (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = app }, deadline: PodTestSupport.Deadline())).Status.ExitCode);

        // run_as_username from the security context, and a read-only rootfs.
        var locked = await StartAsync(cri, podId, image, "locked",
            new V1.LinuxContainerSecurityContext { RunAsUsername = "nobody", ReadonlyRootfs = true }, "sleep 600");
        Assert.Equal("65534 65534\n", await ExecAsync(cri, locked, "echo $(id -u) $(id -g)"));
        var write = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = locked, Cmd = { "sh", "-c", "echo x > /tmp/x" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.NotEqual(0, write.ExitCode);
        Assert.Contains("Read-only file system", write.Stderr.ToStringUtf8(), StringComparison.Ordinal);

        var before = (await cri.Runtime.ListContainersAsync(new V1.ListContainersRequest(), deadline: PodTestSupport.Deadline())).Containers.Count;
        var ghost = await Assert.ThrowsAsync<RpcException>(() => StartAsync(cri, podId, image, "ghost", new V1.LinuxContainerSecurityContext { RunAsUsername = "ghost" }, "true"));
        Assert.Equal(StatusCode.InvalidArgument, ghost.StatusCode);
        Assert.Contains("ghost", ghost.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(before, (await cri.Runtime.ListContainersAsync(new V1.ListContainersRequest(), deadline: PodTestSupport.Deadline())).Containers.Count);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods", podId, "containers")).Length);

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    private static async Task<string> StartAsync(CriClient cri, string podId, string image, string name, V1.LinuxContainerSecurityContext security, string script)
    {
        var id = (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
        {
            PodSandboxId = podId,
            Config = new V1.ContainerConfig
            {
                Metadata = new V1.ContainerMetadata { Name = name },
                Image = new V1.ImageSpec { Image = image },
                Command = { "sh", "-c", script },
                Linux = new V1.LinuxContainerConfig { SecurityContext = security },
            },
        }, deadline: PodTestSupport.Deadline())).ContainerId;
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = id }, deadline: PodTestSupport.Deadline());
        return id;
    }

    private static async Task<string> ExecAsync(CriClient cri, string id, string script)
    {
        var result = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = id, Cmd = { "sh", "-c", script }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr.ToStringUtf8()}");
        return result.Stdout.ToStringUtf8();
    }
}
