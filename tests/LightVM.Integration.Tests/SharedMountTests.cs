using System.Text.Json;
using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>Two containers in one pod VM share a host directory; the pool and the VM say where the VM came from.</summary>
[Trait("Category", "Qemu")]
public sealed class SharedMountTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task CreateContainer_TwoContainersOneHostDirectory_BothSeeItAndHostSeesTheirWrites()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "shared/busybox");
        var data = Directory.CreateDirectory(Path.Combine(dir.Path, "data")).FullName;
        await File.WriteAllTextAsync(Path.Combine(data, "from-host"), "host says hi\n");

        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("shared", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;
        var status = await cri.Runtime.StatusAsync(new V1.StatusRequest { Verbose = true }, deadline: PodTestSupport.Deadline());
        Assert.True(status.Status.Conditions.Single(c => c.Type == "RuntimeReady").Status, "RuntimeReady with a guest kernel, initrd and QEMU");
        using (var pool = JsonDocument.Parse(status.Info["pool"]))
        {
            Assert.True(pool.RootElement.GetProperty("enabled").GetBoolean());
            var shape = pool.RootElement.GetProperty("shapes")[0];
            Assert.Equal(1, shape.GetProperty("target").GetInt32());
            Assert.Equal(1, shape.GetProperty("hits").GetInt64() + shape.GetProperty("misses").GetInt64());
        }

        var writer = await StartAsync(cri, podId, image, "writer", data, "echo written > /data/from-writer; sleep 600");
        var reader = await StartAsync(cri, podId, image, "reader", data, "sleep 600");
        var seen = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = reader, Cmd = { "sh", "-c", "cat /data/from-host; sleep 1; cat /data/from-writer" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal("host says hi\nwritten\n", seen.Stdout.ToStringUtf8());
        Assert.Equal("written\n", await File.ReadAllTextAsync(Path.Combine(data, "from-writer")));
        var mounts = (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = writer }, deadline: PodTestSupport.Deadline())).Status.Mounts;
        Assert.Equal(("/data", data), (mounts.Single().ContainerPath, mounts.Single().HostPath));

        // Each container writes to its own upper layer: the reader does not see the writer's rootfs changes.
        await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = writer, Cmd = { "touch", "/only-writer" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        var isolated = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = reader, Cmd = { "test", "-e", "/only-writer" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.Equal(1, isolated.ExitCode);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.CreateContainerAsync(
            Container(podId, image, "broken", Path.Combine(dir.Path, "no-such-dir"), "true"), deadline: PodTestSupport.Deadline()));
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        Assert.Contains("no-such-dir", missing.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(2, (await cri.Runtime.ListContainersAsync(new V1.ListContainersRequest { Filter = new V1.ContainerFilter { PodSandboxId = podId } }, deadline: PodTestSupport.Deadline())).Containers.Count);

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Equal("host says hi\n", await File.ReadAllTextAsync(Path.Combine(data, "from-host")));
    }

    private static async Task<string> StartAsync(CriClient cri, string podId, string image, string name, string data, string script)
    {
        var id = (await cri.Runtime.CreateContainerAsync(Container(podId, image, name, data, script), deadline: PodTestSupport.Deadline())).ContainerId;
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = id }, deadline: PodTestSupport.Deadline());
        return id;
    }

    private static V1.CreateContainerRequest Container(string podId, string image, string name, string hostPath, string script) => new()
    {
        PodSandboxId = podId,
        Config = new V1.ContainerConfig
        {
            Metadata = new V1.ContainerMetadata { Name = name },
            Image = new V1.ImageSpec { Image = image },
            Command = { "sh", "-c", script },
            Mounts = { new V1.Mount { HostPath = hostPath, ContainerPath = "/data" } },
        },
    };
}
