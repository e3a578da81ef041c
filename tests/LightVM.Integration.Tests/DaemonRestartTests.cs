using System.Text.Json;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>What a daemon killed with SIGKILL leaves, and what its successor does with it (no reattach yet).</summary>
[Trait("Category", "Qemu")]
public sealed class DaemonRestartTests
{
    [Fact]
    public async Task StopPodSandbox_AfterDaemonKill9_PodNotReadyAndItsVmmStopped()
    {
        using var dir = new TempDirectory();
        string podId;
        int vmmPid;
        // No pool: idle pool VMs of a killed daemon are not cleaned up yet (no recovery), and would outlive the test.
        await using (var first = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0))
        {
            using var cri = first.Connect();
            podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = PodTestSupport.PodConfig("survivor", "") }, deadline: PodTestSupport.Deadline())).PodSandboxId;
            var status = await cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: PodTestSupport.Deadline());
            using var info = JsonDocument.Parse(status.Info["info"]);
            vmmPid = info.RootElement.GetProperty("vm").GetProperty("vmmPid").GetInt32();
            await first.StopAsync(signal: 9);
        }

        Assert.True(Directory.Exists($"/proc/{vmmPid}"), "the pod VM outlives a killed daemon");
        await using var second = await PodTestSupport.StartDaemonAsync(dir.Path, poolSize: 0);
        using var again = second.Connect();
        var reloaded = await again.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Equal(V1.PodSandboxState.SandboxNotready, reloaded.Status.State);

        await again.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());

        await PodTestSupport.WaitGoneAsync(vmmPid);
        await again.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
        Assert.Empty(Directory.GetDirectories(Path.Combine(dir.Path, "state", "pods")));
    }
}
