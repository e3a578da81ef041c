using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>Every container of a pod sees the pod's resolv.conf (from kubelet's DNS config), hostname, IPC and /dev/shm.</summary>
[Trait("Category", "Qemu")]
public sealed class PodFilesTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task StartContainer_PodDnsHostnameAndIpc_SharedByContainersUnlessOneMountsItsOwnFile()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "podfiles/busybox");
        var config = PodTestSupport.PodConfig("dns-pod", "");
        config.DnsConfig = new V1.DNSConfig
        {
            Servers = { "10.96.0.10" }, Searches = { "default.svc.cluster.local", "svc.cluster.local" }, Options = { "ndots:5" },
        };
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = config }, deadline: PodTestSupport.Deadline())).PodSandboxId;

        var plain = await StartAsync(cri, podId, image, "plain", null);
        Assert.Equal(
            "search default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n---\ndns-pod\ndns-pod\n",
            await ExecAsync(cri, plain, "cat /etc/resolv.conf; echo ---; cat /etc/hostname; hostname"));

        // kubelet-style: a container that mounts its own file at the path keeps it.
        var own = Path.Combine(dir.Path, "my-resolv.conf");
        await File.WriteAllTextAsync(own, "nameserver 192.0.2.1\n");
        var custom = await StartAsync(cri, podId, image, "custom", new V1.Mount { HostPath = own, ContainerPath = "/etc/resolv.conf", Readonly = true });
        Assert.Equal("nameserver 192.0.2.1\n", await ExecAsync(cri, custom, "cat /etc/resolv.conf"));

        // The pod's containers share IPC: one namespace and one /dev/shm, as with a pause container.
        await ExecAsync(cri, plain, "echo shared > /dev/shm/note");
        Assert.Equal("shared\n", await ExecAsync(cri, custom, "cat /dev/shm/note"));
        Assert.Equal(await ExecAsync(cri, plain, "readlink /proc/self/ns/ipc"), await ExecAsync(cri, custom, "readlink /proc/self/ns/ipc"));
        Assert.NotEqual(await ExecAsync(cri, plain, "readlink /proc/self/ns/mnt"), await ExecAsync(cri, custom, "readlink /proc/self/ns/mnt"));

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    private static async Task<string> StartAsync(CriClient cri, string podId, string image, string name, V1.Mount? mount)
    {
        var config = new V1.ContainerConfig
        {
            Metadata = new V1.ContainerMetadata { Name = name },
            Image = new V1.ImageSpec { Image = image },
            Command = { "sleep", "600" },
        };
        if (mount is not null)
        {
            config.Mounts.Add(mount);
        }

        var id = (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest { PodSandboxId = podId, Config = config }, deadline: PodTestSupport.Deadline())).ContainerId;
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
