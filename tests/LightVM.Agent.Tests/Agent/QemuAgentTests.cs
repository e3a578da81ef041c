using System.Text;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Tests.Agent;

/// <summary>The agent as PID 1's child in a real guest: virtio-serial channel, initramfs rootfs, cgroup v2, power-off.</summary>
[Trait("Category", "Qemu")]
public sealed class QemuAgentTests
{
    private const string Rootfs = "/run/lightvm/share/rootfs";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Boots a guest and runs <paramref name="body"/> on it; a failure carries the guest console.</summary>
    private static async Task RunInGuestAsync(Func<QemuGuest, CancellationToken, Task> body)
    {
        await using var guest = await QemuGuest.BootAsync(await GuestBinaries.DirectoryAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await body(guest, timeout.Token);
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            throw new InvalidOperationException($"{e.Message}\nguest console:\n{guest.ConsoleLog}", e);
        }
    }

    [QemuFact]
    public async Task Guest_HostReconnectsAtOnce_EveryHandshakeIsAnswered()
    {
        // The runtime's boot probe closes its connection and RunPodSandbox connects right after: the guest may see
        // the disconnect late, or not at all, and must still answer every new handshake.
        await RunInGuestAsync(async (guest, ct) =>
        {
            await using (var first = guest.CreateClient())
            {
                await first.PingAsync(new PingRequest(), ct); // waits for the boot
            }

            for (var round = 0; round < 40; round++)
            {
                // The runtime's handshake timeout: a Hello the guest drops fails the round instead of waiting long.
                await using var client = guest.CreateClient(new AgentClientOptions().HandshakeTimeout);
                if (round % 2 == 0)
                {
                    await client.PingAsync(new PingRequest(), ct);
                }
                else
                {
                    await client.ConnectAsync(ct);
                }
            }
        });
    }

    [QemuFact]
    public async Task Guest_ContainerExecReconnectShutdown_WorkOverVirtioSerial()
    {
        await RunInGuestAsync(async (guest, ct) =>
        {
            await using (var client = guest.CreateClient())
            {
                await client.PingAsync(new PingRequest(), ct);
                var info = await client.InfoAsync(new InfoRequest(), ct);
                Assert.Equal(AgentProtocol.Version, info.ProtocolVersion);

                // The container rootfs comes from the host over virtio-9p, as the runtime shares it.
                await client.MountShareAsync(new MountShareRequest
                {
                    Source = QemuGuest.ShareTag, Target = "/run/lightvm/share", Fstype = "9p",
                    Options = "trans=virtio,version=9p2000.L,msize=262144",
                }, ct);

                // The pool's warm-up: a throwaway container on the share, gone afterwards.
                var warmUp = await client.WarmUpAsync(new WarmUpRequest { ScratchDir = "/run/lightvm/share" }, ct);
                Assert.True(warmUp.DurationNanos > 0);
                Assert.Empty((await client.ListContainersAsync(new ListContainersRequest(), ct)).Containers);
                Assert.DoesNotContain(Directory.EnumerateDirectories(guest.ShareDirectory), d => Path.GetFileName(d).StartsWith(".lightvm-warm-up", StringComparison.Ordinal));

                var create = new CreateContainerRequest { Id = "c1", Rootfs = Rootfs, Hostname = "c1" };
                create.Args.AddRange(["sh", "-c", "echo hi; echo err >&2; hostname; exit 3"]);
                create.Env.Add("PATH=/bin");
                if (info.CgroupV2)
                {
                    create.Resources = new Resources { MemoryLimitBytes = 64 << 20 };
                }

                await client.CreateContainerAsync(create, ct);
                await client.StartContainerAsync(new StartContainerRequest { Id = "c1" }, ct);
                var stdout = new StringBuilder();
                var stderr = new StringBuilder();
                await foreach (var record in client.ReadOutputAsync("c1", 0, ct))
                {
                    (record.Stream == OutputStream.Stdout ? stdout : stderr).Append(record.Data.ToStringUtf8());
                }

                var exit = await client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, ct);
                Assert.Equal("hi\nc1\n", stdout.ToString());
                Assert.Equal("err\n", stderr.ToString());
                Assert.Equal(3, exit.Status.ExitCode);

                // A binary that is not in the rootfs: a clear NotFound naming it, not a silent exit 127.
                var missing = new CreateContainerRequest { Id = "missing", Rootfs = Rootfs };
                missing.Args.Add("/bin/no-such-binary");
                var notFound = await Assert.ThrowsAsync<AgentException>(async () =>
                {
                    await client.CreateContainerAsync(missing, ct);
                    await client.StartContainerAsync(new StartContainerRequest { Id = "missing" }, ct);
                });
                Assert.Equal(AgentErrorKind.NotFound, notFound.Kind);
                Assert.Contains("no-such-binary", notFound.Message, StringComparison.Ordinal);

                var sleeper = new CreateContainerRequest { Id = "c2", Rootfs = Rootfs };
                sleeper.Args.AddRange(["sleep", "1000"]);
                await client.CreateContainerAsync(sleeper, ct);
                await client.StartContainerAsync(new StartContainerRequest { Id = "c2" }, ct);
                var exec = new ExecSyncRequest { Id = "c2", TimeoutMs = 30_000 };
                exec.Args.AddRange(["sh", "-c", "test -e /bin/busybox && echo in-container"]);
                Assert.Equal("in-container\n", (await client.ExecSyncAsync(exec, ct)).Stdout.ToStringUtf8());

                // An ExecSync past its timeout is killed and reported as such.
                var slow = new ExecSyncRequest { Id = "c2", TimeoutMs = 1_000 };
                slow.Args.AddRange(["sh", "-c", "touch /tmp/slow-started; sleep 100"]);
                var deadline = await Assert.ThrowsAsync<AgentException>(async () => await client.ExecSyncAsync(slow, ct));
                Assert.Equal(AgentErrorKind.DeadlineExceeded, deadline.Kind);
                var check = new ExecSyncRequest { Id = "c2", TimeoutMs = 30_000 };
                check.Args.AddRange(["sh", "-c", "test -e /tmp/slow-started && ! pgrep -f 'slee[p] 100' >/dev/null && echo gone"]);
                Assert.Equal("gone\n", (await client.ExecSyncAsync(check, ct)).Stdout.ToStringUtf8());
            }

            // The host went away and came back with a new handshake: the guest kept everything.
            await using var again = guest.CreateClient();
            var list = await again.ListContainersAsync(new ListContainersRequest(), ct);
            Assert.Equal(ContainerState.Exited, list.Containers.Single(c => c.Id == "c1").State);
            Assert.Equal(ContainerState.Running, list.Containers.Single(c => c.Id == "c2").State);
            await again.SignalContainerAsync(new SignalContainerRequest { Id = "c2", Signal = 15 }, ct);
            Assert.Equal(15u, (await again.WaitContainerAsync(new WaitContainerRequest { Id = "c2" }, ct)).Status.Signal);
            var stats = await again.StatsAsync(new StatsRequest(), ct);
            Assert.True(stats.Vm.AgentRssBytes < 20 << 20, $"agent RSS {stats.Vm.AgentRssBytes}");

            // PID 1 restarts an agent that died - here killed from a container, which shares the guest's PIDs.
            var killer = new CreateContainerRequest { Id = "killer", Rootfs = Rootfs };
            killer.Args.AddRange(["sh", "-c", "sleep 0.5; kill -9 $(pidof lightvm-agent)"]);
            await again.CreateContainerAsync(killer, ct);
            await again.StartContainerAsync(new StartContainerRequest { Id = "killer" }, ct);
            var before = again.AgentInstanceId;
            string? after = null;
            for (var attempt = 0; attempt < 60 && (after is null || after == before); attempt++)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                try
                {
                    after = (await again.InfoAsync(new InfoRequest(), ct)).AgentInstanceId;
                }
                catch (AgentException e) when (e.Kind == AgentErrorKind.Unavailable)
                {
                    // The old agent's connection is gone; the next call reconnects.
                }
            }

            Assert.NotNull(after);
            Assert.NotEqual(before, after);
            Assert.Empty((await again.ListContainersAsync(new ListContainersRequest(), ct)).Containers);

            await again.ShutdownAsync(new ShutdownRequest(), ct);
            await guest.WaitForExitAsync(Timeout);
        });
    }
}
