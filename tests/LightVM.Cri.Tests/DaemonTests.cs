using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Tests;

/// <summary>The real daemon on a temp socket, driven by the generated CRI client.</summary>
public sealed class DaemonTests
{
    [Fact]
    public async Task Version_Called_ReturnsRuntimeNameAndApiVersion()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var version = await cri.Runtime.VersionAsync(new V1.VersionRequest { Version = "v1" });

        Assert.Equal("lightvm", version.RuntimeName);
        Assert.Equal("v1", version.RuntimeApiVersion);
        Assert.Equal("0.1.0", version.Version);
        Assert.Matches(@"^\d+\.\d+\.\d+", version.RuntimeVersion);
    }

    [Fact]
    public async Task Status_Called_ReportsRuntimeAndNetworkConditionsWithReasons()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var status = await cri.Runtime.StatusAsync(new V1.StatusRequest());

        var types = status.Status.Conditions.Select(c => c.Type).ToList();
        Assert.Equal(["RuntimeReady", "NetworkReady"], types);
        foreach (var condition in status.Status.Conditions.Where(c => !c.Status))
        {
            Assert.False(string.IsNullOrEmpty(condition.Reason), $"{condition.Type} is false without a reason");
            Assert.False(string.IsNullOrEmpty(condition.Message), $"{condition.Type} is false without a message");
        }

        Assert.Empty(status.Info);
    }

    [Fact]
    public async Task Status_Verbose_ReturnsEffectiveConfigAsJson()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path, ["--telemetry.log_level", "debug"]);
        using var cri = daemon.Connect();

        var status = await cri.Runtime.StatusAsync(new V1.StatusRequest { Verbose = true });

        using var json = System.Text.Json.JsonDocument.Parse(status.Info["config"]);
        Assert.Equal(daemon.SocketPath, json.RootElement.GetProperty("cri").GetProperty("listen").GetString());
        Assert.Equal("debug", json.RootElement.GetProperty("telemetry").GetProperty("log_level").GetString());
        Assert.Equal(Path.Combine(dir.Path, "state"), json.RootElement.GetProperty("state").GetProperty("root").GetString());
    }

    [Fact]
    public async Task RuntimeConfig_Called_ReturnsConfiguredCgroupDriver()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path, ["--cri.cgroup_driver=systemd"]);
        using var cri = daemon.Connect();

        var config = await cri.Runtime.RuntimeConfigAsync(new V1.RuntimeConfigRequest());

        Assert.Equal(V1.CgroupDriver.Systemd, config.Linux.CgroupDriver);
    }

    [Fact]
    public async Task UnbuiltRpc_Called_ReturnsUnimplementedNamingTheRpc()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.CheckpointContainerAsync(new V1.CheckpointContainerRequest { ContainerId = "x" }));

        Assert.Equal(StatusCode.Unimplemented, e.StatusCode);
        Assert.Contains("CheckpointContainer", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpdateRuntimeConfig_InvalidCidr_InvalidArgumentNamingValue()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var e = await Assert.ThrowsAsync<RpcException>(async () => await cri.Runtime.UpdateRuntimeConfigAsync(
            new V1.UpdateRuntimeConfigRequest
            {
                RuntimeConfig = new V1.RuntimeConfig { NetworkConfig = new V1.NetworkConfig { PodCidr = "10.0.0.0/99" } },
            }));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("10.0.0.0/99", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Restart_RecordWrittenBefore_IsThereAfter()
    {
        using var dir = new TempDirectory();
        await using (var daemon = await DaemonProcess.StartAsync(dir.Path))
        {
            using var cri = daemon.Connect();
            await cri.Runtime.UpdateRuntimeConfigAsync(new V1.UpdateRuntimeConfigRequest
            {
                RuntimeConfig = new V1.RuntimeConfig { NetworkConfig = new V1.NetworkConfig { PodCidr = "10.88.0.0/16,fd00::/64" } },
            });
            // kill -9: no clean shutdown; the committed write must survive anyway.
            await daemon.StopAsync(signal: 9);
        }

        await using var restarted = await DaemonProcess.StartAsync(dir.Path);
        using var client = restarted.Connect();
        var status = await client.Runtime.StatusAsync(new V1.StatusRequest { Verbose = true });

        Assert.Equal("10.88.0.0/16,fd00::/64", status.Info["podCIDR"]);
    }

    [Fact]
    public async Task SecondDaemon_SameStateDirectory_ExitsNonZeroWithClearMessage()
    {
        using var dir = new TempDirectory();
        await using var first = await DaemonProcess.StartAsync(dir.Path);

        // Same state, another socket: the state lock, not the socket, must stop it.
        var args = DaemonProcess.ArgsFor(dir.Path).ToList();
        args[^1] = Path.Combine(dir.Path, "other.sock");
        var (exitCode, output) = await DaemonProcess.RunToExitAsync(args, TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("already uses the state directory", output, StringComparison.Ordinal);
        Assert.Contains($"pid {first.Pid}", output, StringComparison.Ordinal);
        Assert.False(first.HasExited);
        Assert.False(File.Exists(Path.Combine(dir.Path, "other.sock")));
    }

    [Fact]
    public async Task SecondDaemon_SameSocket_ExitsNonZeroAndLeavesFirstServing()
    {
        using var dir = new TempDirectory();
        await using var first = await DaemonProcess.StartAsync(dir.Path);

        var args = DaemonProcess.ArgsFor(dir.Path).ToList();
        args[1] = Path.Combine(dir.Path, "state2");
        var (exitCode, output) = await DaemonProcess.RunToExitAsync(args, TimeSpan.FromSeconds(60));

        Assert.NotEqual(0, exitCode);
        Assert.Contains("already serving", output, StringComparison.Ordinal);
        using var cri = first.Connect();
        var version = await cri.Runtime.VersionAsync(new V1.VersionRequest());
        Assert.Equal("lightvm", version.RuntimeName);
    }

    [Fact]
    public async Task Sigterm_Received_ExitsZeroAndRemovesSocket()
    {
        using var dir = new TempDirectory();
        var daemon = await DaemonProcess.StartAsync(dir.Path);
        Assert.True(File.Exists(daemon.SocketPath));

        var exitCode = await daemon.StopAsync(signal: 15);
        await daemon.DisposeAsync();

        Assert.Equal(0, exitCode);
        Assert.False(File.Exists(daemon.SocketPath), "the socket is still there after SIGTERM");
        Assert.Contains("Stopped", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StaleSocket_LeftByDeadDaemon_IsReplaced()
    {
        using var dir = new TempDirectory();
        await using (var crashed = await DaemonProcess.StartAsync(dir.Path))
        {
            await crashed.StopAsync(signal: 9);
            Assert.True(File.Exists(crashed.SocketPath), "kill -9 should leave the socket file behind");
        }

        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();
        var version = await cri.Runtime.VersionAsync(new V1.VersionRequest());
        Assert.Equal("lightvm", version.RuntimeName);
    }

    [Fact]
    public async Task Socket_Created_HasMode0660AndDirectoryIsCreated()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);

        var mode = File.GetUnixFileMode(daemon.SocketPath);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, mode);
    }
}

/// <summary>OpenTelemetry: one span per RPC when an exporter is configured.</summary>
public sealed class TracingTests
{
    [Fact]
    public async Task ConsoleExporter_Configured_EmitsSpanPerRpcWithStatusCode()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path, ["--telemetry.exporter=console"]);
        using var cri = daemon.Connect();

        await cri.Runtime.VersionAsync(new V1.VersionRequest());
        await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Runtime.CheckpointContainerAsync(new V1.CheckpointContainerRequest { ContainerId = "x" }));
        await daemon.StopAsync();

        Assert.Contains("RuntimeService/Version", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("RuntimeService/CheckpointContainer", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("rpc.grpc.status_code", daemon.Output, StringComparison.Ordinal);
    }
}
