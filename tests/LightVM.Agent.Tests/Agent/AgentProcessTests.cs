using System.Text;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Protos.Agent.V1;
using Xunit.Abstractions;

namespace LightVM.Agent.Tests.Agent;

/// <summary>The real agent binary on this host, driven through the real AgentClient over a unix socket.</summary>
public sealed class AgentProcessTests : IClassFixture<AgentFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly AgentFixture _fixture;
    private readonly ITestOutputHelper _output;

    public AgentProcessTests(AgentFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private async Task<uint> RunAsync(AgentClient client, string id, params string[] args)
    {
        var request = new CreateContainerRequest { Id = id, Rootfs = _fixture.CreateRootfs(), Cwd = "/", Hostname = id };
        request.Args.AddRange(args);
        request.Env.Add("PATH=/bin");
        await client.CreateContainerAsync(request, default);
        var started = await client.StartContainerAsync(new StartContainerRequest { Id = id }, default);
        _fixture.Track(started.Pid);
        return started.Pid;
    }

    private static async Task<(string Stdout, string Stderr, List<OutputRecord> Records)> ReadAllOutputAsync(AgentClient client, string id, ulong from = 0)
    {
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var records = new List<OutputRecord>();
        using var timeout = new CancellationTokenSource(Timeout);
        await foreach (var record in client.ReadOutputAsync(id, from, timeout.Token))
        {
            records.Add(record);
            (record.Stream == OutputStream.Stdout ? stdout : stderr).Append(record.Data.ToStringUtf8());
        }

        return (stdout.ToString(), stderr.ToString(), records);
    }

    private async Task RemoveAsync(AgentClient client, string id) =>
        await client.RemoveContainerAsync(new RemoveContainerRequest { Id = id, Force = true }, default);

    [Fact]
    public async Task Container_ShellWritesBothStreamsAndExits3_OutputAndExitCodeReported()
    {
        await using var client = _fixture.Agent.CreateClient();

        await RunAsync(client, "both-streams", "sh", "-c", "echo hi; echo err >&2; exit 3");
        var (stdout, stderr, records) = await ReadAllOutputAsync(client, "both-streams");
        var wait = await client.WaitContainerAsync(new WaitContainerRequest { Id = "both-streams" }, default).WaitAsync(Timeout);

        Assert.Equal("hi\n", stdout);
        Assert.Equal("err\n", stderr);
        Assert.All(records, r => Assert.True(r.TimestampUnixNano > 0));
        Assert.Equal(3, wait.Status.ExitCode);
        Assert.Equal(0u, wait.Status.Signal);
        Assert.True(wait.Status.FinishedAtUnixNano >= wait.Status.StartedAtUnixNano);
        await RemoveAsync(client, "both-streams");
    }

    [Fact]
    public async Task Container_SeesItsOwnRootHostnameAndMinimalDev()
    {
        await using var client = _fixture.Agent.CreateClient();

        await RunAsync(client, "isolated", "sh", "-c", "hostname; ls /dev | tr '\\n' ' '; echo; test -e /bin/busybox && echo root-ok; cat /proc/1/comm >/dev/null && echo proc-ok");
        var (stdout, stderr, _) = await ReadAllOutputAsync(client, "isolated");

        Assert.Equal(string.Empty, stderr);
        var lines = stdout.Split('\n');
        Assert.Equal("isolated", lines[0]);
        foreach (var device in new[] { "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx" })
        {
            Assert.Contains(device, lines[1].Split(' '));
        }

        Assert.Contains("root-ok", lines);
        Assert.Contains("proc-ok", lines);
        await RemoveAsync(client, "isolated");
    }

    [Fact]
    public async Task Mount_TargetThroughAnImageSymlinkToAHostPath_StaysInsideTheRootfs()
    {
        await using var client = _fixture.Agent.CreateClient();
        var rootfs = _fixture.CreateRootfs();
        var outside = Directory.CreateTempSubdirectory("outside-").FullName;
        var source = Directory.CreateTempSubdirectory("source-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(source, "marker"), "from-host\n");
            File.CreateSymbolicLink(Path.Combine(rootfs, "evil"), outside); // absolute: a host path, if followed on the host
            var request = new CreateContainerRequest { Id = "symlink-mount", Rootfs = rootfs, Cwd = "/" };
            request.Args.AddRange(["sh", "-c", "cat /evil/sub/marker"]);
            request.Env.Add("PATH=/bin");
            request.Mounts.Add(new Mount { Source = source, Target = "/evil/sub", Bind = true, Readonly = true });
            request.Mounts.Add(new Mount { Source = Path.Combine(source, "marker"), Target = "/evil/file", Bind = true });
            await client.CreateContainerAsync(request, default);
            _fixture.Track((await client.StartContainerAsync(new StartContainerRequest { Id = "symlink-mount" }, default)).Pid);
            var (stdout, stderr, _) = await ReadAllOutputAsync(client, "symlink-mount");

            // Resolved with the rootfs as "/": the mount points were made under rootfs/<that path>, not on the host.
            Assert.Equal(("from-host\n", string.Empty), (stdout, stderr));
            Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
            Assert.True(Directory.Exists(Path.Combine(rootfs, outside.TrimStart('/'), "sub")));
            await RemoveAsync(client, "symlink-mount");
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
            Directory.Delete(source, recursive: true);
        }
    }

    [Fact]
    public async Task WarmUp_RunsAThrowawayContainerAndLeavesNothingBehind()
    {
        await using var client = _fixture.Agent.CreateClient();
        var scratch = Directory.CreateTempSubdirectory("warm-up-").FullName;
        try
        {
            var response = await client.WarmUpAsync(new WarmUpRequest { ScratchDir = scratch }, default).WaitAsync(Timeout);
            var again = await client.WarmUpAsync(new WarmUpRequest { ScratchDir = scratch }, default).WaitAsync(Timeout);

            Assert.True(response.DurationNanos > 0 && again.DurationNanos > 0);
            Assert.Empty(Directory.EnumerateFileSystemEntries(scratch));
            var list = await client.ListContainersAsync(new ListContainersRequest(), default);
            Assert.DoesNotContain(list.Containers, c => c.Id.StartsWith("lightvm-warm-up", StringComparison.Ordinal));
            Assert.Contains("Warm-up container ran", _fixture.AgentLog, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [Fact]
    public async Task WarmUp_ScratchDirectoryMissing_NotFound()
    {
        await using var client = _fixture.Agent.CreateClient();

        var error = await Assert.ThrowsAsync<AgentException>(() => client.WarmUpAsync(new WarmUpRequest { ScratchDir = "/no/such/scratch" }, default));

        Assert.Equal(AgentErrorKind.NotFound, error.Kind);
        Assert.Contains("/no/such/scratch", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/bin/no-such-binary", "/bin/no-such-binary")]
    [InlineData("no-such-command", "no-such-command")]
    public async Task StartContainer_BinaryMissing_NotFoundNamingTheBinary(string command, string named)
    {
        await using var client = _fixture.Agent.CreateClient();
        var id = "missing-" + command.Replace("/", "-", StringComparison.Ordinal).Trim('-');
        var request = new CreateContainerRequest { Id = id, Rootfs = _fixture.CreateRootfs() };
        request.Args.Add(command);
        await client.CreateContainerAsync(request, default);

        var error = await Assert.ThrowsAsync<AgentException>(() => client.StartContainerAsync(new StartContainerRequest { Id = id }, default));
        var wait = await client.WaitContainerAsync(new WaitContainerRequest { Id = id }, default).WaitAsync(Timeout);

        Assert.Equal(AgentErrorKind.NotFound, error.Kind);
        Assert.Contains($"\"{named}\" not found", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("StartError:", wait.Status.Reason, StringComparison.Ordinal);
        await RemoveAsync(client, id);
    }

    [Fact]
    public async Task ExecSync_Timeout_DeadlineExceededAndProcessGroupGone()
    {
        await using var client = _fixture.Agent.CreateClient();
        var root = _fixture.CreateRootfs();
        var create = new CreateContainerRequest { Id = "exec-gone", Rootfs = root };
        create.Args.AddRange(["sleep", "1000"]);
        create.Env.Add("PATH=/bin");
        await client.CreateContainerAsync(create, default);
        _fixture.Track((await client.StartContainerAsync(new StartContainerRequest { Id = "exec-gone" }, default)).Pid);
        var exec = new ExecSyncRequest { Id = "exec-gone", TimeoutMs = 500 };
        exec.Args.AddRange(["sh", "-c", "echo $$ > /tmp/sh.pid; sleep 3217 & echo $! > /tmp/child.pid; wait"]);

        var error = await Assert.ThrowsAsync<AgentException>(() => client.ExecSyncAsync(exec, default).WaitAsync(Timeout));

        Assert.Equal(AgentErrorKind.DeadlineExceeded, error.Kind);
        Assert.Contains("timed out after 500 ms", error.Message, StringComparison.Ordinal);
        foreach (var file in new[] { "sh.pid", "child.pid" })
        {
            var pid = int.Parse((await File.ReadAllTextAsync(Path.Combine(root, "tmp", file))).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            for (var i = 0; i < 50 && Directory.Exists($"/proc/{pid}"); i++)
            {
                await Task.Delay(100);
            }

            Assert.False(Directory.Exists($"/proc/{pid}"), $"{file}: process {pid} still exists");
        }

        var state = (await client.ListContainersAsync(new ListContainersRequest(), default)).Containers.Single(c => c.Id == "exec-gone");
        Assert.Equal(ContainerState.Running, state.State);

        await RemoveAsync(client, "exec-gone");
    }

    [Fact]
    public async Task ExecSync_ManyConcurrent_EachGetsItsOwnOutput()
    {
        await using var client = _fixture.Agent.CreateClient();
        await RunAsync(client, "exec-many", "sleep", "1000");

        var execs = Enumerable.Range(0, 8).Select(i =>
        {
            var exec = new ExecSyncRequest { Id = "exec-many", TimeoutMs = 20_000 };
            exec.Args.AddRange(["sh", "-c", $"sleep 0.3; echo out-{i}; echo err-{i} >&2; exit {i}"]);
            return client.ExecSyncAsync(exec, default);
        }).ToArray();
        var results = await Task.WhenAll(execs).WaitAsync(Timeout);

        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal($"out-{i}\n", results[i].Stdout.ToStringUtf8());
            Assert.Equal($"err-{i}\n", results[i].Stderr.ToStringUtf8());
            Assert.Equal(i, results[i].ExitCode);
        }

        await RemoveAsync(client, "exec-many");
    }

    [Fact]
    public async Task ExecSync_OutputOverLimit_TruncatedAndFlagged()
    {
        await using var client = _fixture.Agent.CreateClient();
        await RunAsync(client, "exec-cap", "sleep", "1000");
        var exec = new ExecSyncRequest { Id = "exec-cap", OutputLimitBytes = 1000 };
        exec.Args.AddRange(["sh", "-c", "yes | head -c 100000"]);

        var result = await client.ExecSyncAsync(exec, default).WaitAsync(Timeout);

        Assert.Equal(1000, result.Stdout.Length);
        Assert.True(result.StdoutTruncated);
        Assert.Equal(0, result.ExitCode);
        await RemoveAsync(client, "exec-cap");
    }

    [Fact]
    public async Task SignalContainer_Sigterm_ReportedAsSignalWithExitCode143()
    {
        await using var client = _fixture.Agent.CreateClient();
        await RunAsync(client, "sigterm", "sleep", "1000");

        await client.SignalContainerAsync(new SignalContainerRequest { Id = "sigterm", Signal = 15 }, default);
        var wait = await client.WaitContainerAsync(new WaitContainerRequest { Id = "sigterm" }, default).WaitAsync(Timeout);

        Assert.Equal(15u, wait.Status.Signal);
        Assert.Equal(143, wait.Status.ExitCode);
        var exec = new ExecSyncRequest { Id = "sigterm" };
        exec.Args.Add("true");
        var notRunning = await Assert.ThrowsAsync<AgentException>(() => client.ExecSyncAsync(exec, default));
        Assert.Equal(AgentErrorKind.FailedPrecondition, notRunning.Kind);
        await RemoveAsync(client, "sigterm");
    }

    [Fact]
    public async Task ReadOutput_HostDisconnectsMidOutputAndReconnects_EveryByteExactlyOnce()
    {
        // ~1.3 MB: more than the agent's 1 MiB buffer, so the container blocks until output is acknowledged.
        var expected = string.Concat(Enumerable.Range(1, 200_000).Select(i => $"{i}\n"));
        var received = new StringBuilder();
        ulong next = 0;
        await using (var first = _fixture.Agent.CreateClient("first-host"))
        {
            await RunAsync(first, "resume", "seq", "1", "200000");
            await foreach (var record in first.ReadOutputAsync("resume", 0, default))
            {
                Assert.Equal(next, record.Offset);
                received.Append(record.Data.ToStringUtf8());
                next = record.Offset + (ulong)record.Data.Length;
                if (next > 300_000)
                {
                    break;
                }
            }
        }

        // The daemon "restarted": a new client on a new connection resumes from the next unconsumed offset.
        await using var second = _fixture.Agent.CreateClient("second-host");
        var (stdout, _, records) = await ReadAllOutputAsync(second, "resume", next);
        received.Append(stdout);

        Assert.Equal(next, records[0].Offset);
        Assert.Equal(expected.Length, received.Length);
        Assert.Equal(expected, received.ToString());
        var released = await Assert.ThrowsAsync<AgentException>(async () =>
        {
            await foreach (var unused in second.ReadOutputAsync("resume", 0, default))
            {
            }
        });
        Assert.Equal(AgentErrorKind.FailedPrecondition, released.Kind);
        Assert.Equal(0, (await second.WaitContainerAsync(new WaitContainerRequest { Id = "resume" }, default)).Status.ExitCode);
        await RemoveAsync(second, "resume");
    }

    [Fact]
    public async Task Lifecycle_ErrorsAreClearAndStateIsListed()
    {
        await using var client = _fixture.Agent.CreateClient();
        await RunAsync(client, "lifecycle", "sleep", "1000");

        var duplicate = new CreateContainerRequest { Id = "lifecycle", Rootfs = _fixture.CreateRootfs() };
        duplicate.Args.Add("true");
        Assert.Equal(AgentErrorKind.AlreadyExists, (await Assert.ThrowsAsync<AgentException>(() => client.CreateContainerAsync(duplicate, default))).Kind);
        var missingRoot = new CreateContainerRequest { Id = "no-root", Rootfs = "/nonexistent/rootfs" };
        missingRoot.Args.Add("true");
        var rootError = await Assert.ThrowsAsync<AgentException>(() => client.CreateContainerAsync(missingRoot, default));
        Assert.Equal(AgentErrorKind.NotFound, rootError.Kind);
        Assert.Contains("/nonexistent/rootfs", rootError.Message, StringComparison.Ordinal);
        Assert.Equal(AgentErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<AgentException>(
            () => client.StartContainerAsync(new StartContainerRequest { Id = "lifecycle" }, default))).Kind);
        Assert.Equal(AgentErrorKind.FailedPrecondition, (await Assert.ThrowsAsync<AgentException>(
            () => client.RemoveContainerAsync(new RemoveContainerRequest { Id = "lifecycle" }, default))).Kind);
        Assert.Equal(AgentErrorKind.NotFound, (await Assert.ThrowsAsync<AgentException>(
            () => client.WaitContainerAsync(new WaitContainerRequest { Id = "ghost" }, default))).Kind);

        var list = await client.ListContainersAsync(new ListContainersRequest(), default);
        var info = Assert.Single(list.Containers, c => c.Id == "lifecycle");
        Assert.Equal(ContainerState.Running, info.State);
        Assert.True(info.Pid > 0);

        await client.RemoveContainerAsync(new RemoveContainerRequest { Id = "lifecycle", Force = true }, default);
        Assert.DoesNotContain((await client.ListContainersAsync(new ListContainersRequest(), default)).Containers, c => c.Id == "lifecycle");
    }

    [Fact]
    public async Task InfoAndStats_ReportAgentAndContainerUsage()
    {
        await using var client = _fixture.Agent.CreateClient();
        await RunAsync(client, "stats", "sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000");
        await Task.Delay(1000);

        var info = await client.InfoAsync(new InfoRequest(), default);
        var stats = await client.StatsAsync(new StatsRequest(), default);

        Assert.Equal(AgentProtocol.Version, info.ProtocolVersion);
        Assert.Equal((await File.ReadAllTextAsync("/proc/sys/kernel/osrelease")).Trim(), info.KernelRelease);
        Assert.True(info.UptimeNanos > 0 && info.BootTimeUnixNano > 0);
        Assert.Equal(client.AgentInstanceId, info.AgentInstanceId);
        var container = Assert.Single(stats.Containers, c => c.Id == "stats");
        Assert.True(container.CpuUsageNanos > 0, "cpu usage");
        Assert.True(container.MemoryWorkingSetBytes > 0, "memory");
        Assert.True(stats.Vm.MemoryTotalBytes > stats.Vm.MemoryAvailableBytes);
        _output.WriteLine($"agent RSS with containers running: {stats.Vm.AgentRssBytes / 1024} KiB");
        Assert.True(stats.Vm.AgentRssBytes < 20 << 20, $"agent RSS {stats.Vm.AgentRssBytes} exceeds the 20 MiB budget");
        if (!info.CgroupV2)
        {
            var update = new UpdateResourcesRequest { Id = "stats", Resources = new Resources { MemoryLimitBytes = 64 << 20 } };
            var error = await Assert.ThrowsAsync<AgentException>(() => client.UpdateResourcesAsync(update, default));
            Assert.Equal(AgentErrorKind.FailedPrecondition, error.Kind);
        }

        await RemoveAsync(client, "stats");
    }

    [Fact]
    public async Task NoPivot_ChrootPathUsedOnInitramfs_RunsContainer()
    {
        var agent = await _fixture.StartAgentAsync("no-pivot", "--no-pivot");
        await using var client = agent.CreateClient();

        await RunAsync(client, "chrooted", "sh", "-c", "test -e /bin/busybox && echo in-root; test -e /proc/self/exe && echo proc");
        var (stdout, stderr, _) = await ReadAllOutputAsync(client, "chrooted");

        Assert.Equal("in-root\nproc\n", stdout);
        Assert.Equal(string.Empty, stderr);
        await RemoveAsync(client, "chrooted");
    }
}
