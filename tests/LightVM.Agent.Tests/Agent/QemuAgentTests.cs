using System.Text;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Tests.Agent;

/// <summary>The agent as PID 1's child in a real guest: virtio-serial channel, initramfs rootfs, cgroup v2, power-off.</summary>
[Trait("Category", "Qemu")]
public sealed class QemuAgentTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [QemuFact]
    public async Task Guest_ContainerExecReconnectShutdown_WorkOverVirtioSerial()
    {
        await using var guest = await QemuGuest.BootAsync(await GuestBinaries.DirectoryAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await using (var client = guest.CreateClient())
            {
                var info = await client.InfoAsync(new InfoRequest(), timeout.Token);
                Assert.Equal(AgentProtocol.Version, info.ProtocolVersion);

                // On the initramfs pivot_root is impossible: the helper moves the rootfs over / and chroots.
                var create = new CreateContainerRequest { Id = "c1", Rootfs = "/rootfs", Hostname = "c1" };
                create.Args.AddRange(["sh", "-c", "echo hi; echo err >&2; hostname; exit 3"]);
                create.Env.Add("PATH=/bin");
                if (info.CgroupV2)
                {
                    create.Resources = new Resources { MemoryLimitBytes = 64 << 20 };
                }

                await client.CreateContainerAsync(create, timeout.Token);
                await client.StartContainerAsync(new StartContainerRequest { Id = "c1" }, timeout.Token);
                var stdout = new StringBuilder();
                var stderr = new StringBuilder();
                await foreach (var record in client.ReadOutputAsync("c1", 0, timeout.Token))
                {
                    (record.Stream == OutputStream.Stdout ? stdout : stderr).Append(record.Data.ToStringUtf8());
                }

                var exit = await client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, timeout.Token);
                Assert.Equal("hi\nc1\n", stdout.ToString());
                Assert.Equal("err\n", stderr.ToString());
                Assert.Equal(3, exit.Status.ExitCode);

                var sleeper = new CreateContainerRequest { Id = "c2", Rootfs = "/rootfs" };
                sleeper.Args.AddRange(["sleep", "1000"]);
                await client.CreateContainerAsync(sleeper, timeout.Token);
                await client.StartContainerAsync(new StartContainerRequest { Id = "c2" }, timeout.Token);
                var exec = new ExecSyncRequest { Id = "c2", TimeoutMs = 30_000 };
                exec.Args.AddRange(["sh", "-c", "test -e /bin/busybox && echo in-container"]);
                Assert.Equal("in-container\n", (await client.ExecSyncAsync(exec, timeout.Token)).Stdout.ToStringUtf8());
            }

            // The host went away and came back: the guest saw the port close and kept everything.
            await using var again = guest.CreateClient();
            var list = await again.ListContainersAsync(new ListContainersRequest(), timeout.Token);
            Assert.Equal(ContainerState.Exited, list.Containers.Single(c => c.Id == "c1").State);
            Assert.Equal(ContainerState.Running, list.Containers.Single(c => c.Id == "c2").State);
            await again.SignalContainerAsync(new SignalContainerRequest { Id = "c2", Signal = 15 }, timeout.Token);
            Assert.Equal(15u, (await again.WaitContainerAsync(new WaitContainerRequest { Id = "c2" }, timeout.Token)).Status.Signal);
            var stats = await again.StatsAsync(new StatsRequest(), timeout.Token);
            Assert.True(stats.Vm.AgentRssBytes < 20 << 20, $"agent RSS {stats.Vm.AgentRssBytes}");

            // PID 1 restarts an agent that died - here killed from a container, which shares the guest's PIDs.
            var killer = new CreateContainerRequest { Id = "killer", Rootfs = "/rootfs" };
            killer.Args.AddRange(["sh", "-c", "sleep 0.5; kill -9 $(pidof lightvm-agent)"]);
            await again.CreateContainerAsync(killer, timeout.Token);
            await again.StartContainerAsync(new StartContainerRequest { Id = "killer" }, timeout.Token);
            var before = again.AgentInstanceId;
            string? after = null;
            for (var attempt = 0; attempt < 60 && (after is null || after == before); attempt++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), timeout.Token);
                try
                {
                    after = (await again.InfoAsync(new InfoRequest(), timeout.Token)).AgentInstanceId;
                }
                catch (AgentException e) when (e.Kind == AgentErrorKind.Unavailable)
                {
                    // The old agent's connection is gone; the next call reconnects.
                }
            }

            Assert.NotNull(after);
            Assert.NotEqual(before, after);
            Assert.Empty((await again.ListContainersAsync(new ListContainersRequest(), timeout.Token)).Containers);

            await again.ShutdownAsync(new ShutdownRequest(), timeout.Token);
            await guest.WaitForExitAsync(Timeout);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\nguest console:\n{guest.ConsoleLog}", e);
        }
    }
}
