using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>CreateContainer's limits and UpdateContainerResources, read back from the container's own cgroup in the VM.</summary>
[Trait("Category", "Qemu")]
public sealed class ContainerResourcesTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private const long Mib = 1 << 20;
    private const string ReadLimits = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight";

    [Fact]
    public async Task UpdateContainerResources_RunningAndCreatedContainers_LimitsAppliedInGuestCgroup()
    {
        using var dir = new TempDirectory();
        await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path);
        using var cri = daemon.Connect();
        var image = await PodTestSupport.PullBusyboxAsync(registry, cri, "resources/busybox");
        var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("limits", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;

        // What kubelet sends for a pod with a 500m CPU limit, a 64 MiB memory limit and swap off.
        var limited = await CreateAsync(cri, podId, image, "limited", new V1.LinuxContainerResources
        {
            CpuPeriod = 100_000, CpuQuota = 50_000, CpuShares = 512, MemoryLimitInBytes = 64 * Mib, MemorySwapLimitInBytes = 64 * Mib,
        });
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = limited }, deadline: PodTestSupport.Deadline());
        Assert.Equal($"{64 * Mib}\n50000 100000\n20\n", await ExecAsync(cri, limited, ReadLimits));

        await cri.Runtime.UpdateContainerResourcesAsync(new V1.UpdateContainerResourcesRequest
        {
            ContainerId = limited[..16],
            Linux = new V1.LinuxContainerResources { CpuQuota = 200_000, MemoryLimitInBytes = 128 * Mib },
        }, deadline: PodTestSupport.Deadline());
        Assert.Equal($"{128 * Mib}\n200000 100000\n20\n", await ExecAsync(cri, limited, ReadLimits));
        var reported = (await cri.Runtime.ContainerStatusAsync(new V1.ContainerStatusRequest { ContainerId = limited }, deadline: PodTestSupport.Deadline())).Status.Resources.Linux;
        Assert.Equal((128 * Mib, 200_000L, 100_000L, 512L), (reported.MemoryLimitInBytes, reported.CpuQuota, reported.CpuPeriod, reported.CpuShares));

        // Limits given to a created container take effect when it starts.
        var later = await CreateAsync(cri, podId, image, "later", null);
        await cri.Runtime.UpdateContainerResourcesAsync(new V1.UpdateContainerResourcesRequest
        {
            ContainerId = later, Linux = new V1.LinuxContainerResources { MemoryLimitInBytes = 32 * Mib, Unified = { ["pids.max"] = "40" } },
        }, deadline: PodTestSupport.Deadline());
        await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = later }, deadline: PodTestSupport.Deadline());
        Assert.Equal($"{32 * Mib}\n40\n", await ExecAsync(cri, later, "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"));

        var badKey = await UpdateFailsAsync(cri, limited, new V1.LinuxContainerResources { Unified = { ["cgroup.procs"] = "1" } });
        Assert.Equal(StatusCode.InvalidArgument, badKey.StatusCode);
        var noFile = await UpdateFailsAsync(cri, limited, new V1.LinuxContainerResources { Unified = { ["memory.nosuch"] = "1" } });
        Assert.Equal(StatusCode.FailedPrecondition, noFile.StatusCode);
        Assert.Contains("memory.nosuch", noFile.Status.Detail, StringComparison.Ordinal);
        Assert.Equal($"{128 * Mib}\n200000 100000\n20\n", await ExecAsync(cri, limited, ReadLimits));
        var unknown = await UpdateFailsAsync(cri, "0000000000", new V1.LinuxContainerResources { MemoryLimitInBytes = 32 * Mib });
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        await cri.Runtime.StopContainerAsync(new V1.StopContainerRequest { ContainerId = limited, Timeout = 0 }, deadline: PodTestSupport.Deadline());
        var exited = await UpdateFailsAsync(cri, limited, new V1.LinuxContainerResources { MemoryLimitInBytes = 32 * Mib });
        Assert.Equal(StatusCode.FailedPrecondition, exited.StatusCode);

        await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
    }

    private static async Task<string> CreateAsync(CriClient cri, string podId, string image, string name, V1.LinuxContainerResources? resources)
    {
        var config = new V1.ContainerConfig
        {
            Metadata = new V1.ContainerMetadata { Name = name },
            Image = new V1.ImageSpec { Image = image },
            Command = { "sleep", "600" },
        };
        if (resources is not null)
        {
            config.Linux = new V1.LinuxContainerConfig { Resources = resources };
        }

        return (await cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest { PodSandboxId = podId, Config = config }, deadline: PodTestSupport.Deadline())).ContainerId;
    }

    private static async Task<string> ExecAsync(CriClient cri, string id, string script)
    {
        var result = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = id, Cmd = { "sh", "-c", script }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr.ToStringUtf8()}");
        return result.Stdout.ToStringUtf8();
    }

    private static Task<RpcException> UpdateFailsAsync(CriClient cri, string id, V1.LinuxContainerResources resources) =>
        Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.UpdateContainerResourcesAsync(
            new V1.UpdateContainerResourcesRequest { ContainerId = id, Linux = resources }, deadline: PodTestSupport.Deadline()));
}
