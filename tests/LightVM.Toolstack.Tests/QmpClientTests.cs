using System.Diagnostics;
using System.Text.Json;
using LightVM.Testing;
using LightVM.Toolstack.Qemu;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Toolstack.Tests;

/// <summary>Our QMP client against a real QEMU held before its first instruction (-S): no guest needed.</summary>
[Trait("Category", "Qemu")]
public sealed class QmpClientTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new("lvqmp");
    private readonly List<QmpEvent> _events = [];
    private Process? _qemu;
    private QmpClient? _client;

    private string SocketPath => _dir.Combine("qmp.sock");

    public async Task InitializeAsync()
    {
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            ArgumentList =
            {
                "-M", "microvm", "-S", "-nodefaults", "-no-user-config", "-display", "none",
                "-qmp", $"unix:{SocketPath},server=on,wait=off",
            },
            RedirectStandardError = true,
        };
        _qemu = Process.Start(start)!;
        try
        {
            await ConnectWithRetryAsync();
        }
        catch
        {
            // xunit does not call DisposeAsync when InitializeAsync fails: do not leave QEMU behind.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_qemu is { HasExited: false })
        {
            _qemu.Kill();
            await _qemu.WaitForExitAsync();
        }

        _qemu?.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task ConnectAsync_Handshake_ReportsVersionAndPrelaunch()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+$", _client!.QemuVersion);
        Assert.Equal("prelaunch", await _client.QueryStatusAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ExecuteAsync_StopAndCont_StatusAndEventsFollow()
    {
        await _client!.ExecuteAsync("cont", null, CancellationToken.None);
        Assert.Equal("running", await _client.QueryStatusAsync(CancellationToken.None));

        await _client.ExecuteAsync("stop", null, CancellationToken.None);
        Assert.Equal("paused", await _client.QueryStatusAsync(CancellationToken.None));
        await WaitForEventAsync("STOP");
    }

    [Fact]
    public async Task ExecuteAsync_UnknownCommand_ThrowsWithQemuError()
    {
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _client!.ExecuteAsync("no-such-command", null, CancellationToken.None));

        Assert.Equal(ToolstackErrorKind.Internal, e.Kind);
        Assert.Contains("CommandNotFound", e.Message, StringComparison.Ordinal);
        Assert.Contains("qmp-test", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExecuteAsync_WithArguments_Serialized()
    {
        var result = await _client!.ExecuteAsync("qom-get", new { path = "/machine", property = "type" }, CancellationToken.None);

        Assert.Equal(JsonValueKind.String, result.ValueKind);
        Assert.Contains("microvm", result.GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuitAsync_Running_ShutdownEventAndConnectionCloses()
    {
        await _client!.QuitAsync(CancellationToken.None);

        await _client.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        await _qemu!.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var shutdown = await WaitForEventAsync("SHUTDOWN");
        Assert.Equal("host-qmp-quit", shutdown.Data.GetProperty("reason").GetString());
        var e = await Assert.ThrowsAsync<ToolstackException>(() => _client.QueryStatusAsync(CancellationToken.None));
        Assert.Equal(ToolstackErrorKind.Unavailable, e.Kind);
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        lock (_events)
        {
            _events.Add(qmpEvent);
        }
    }

    private async Task<QmpEvent> WaitForEventAsync(string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            lock (_events)
            {
                var found = _events.Find(e => e.Name == name);
                if (found is not null)
                {
                    return found;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no {name} event; saw: {string.Join(",", _events.Select(e => e.Name))}");
            await Task.Delay(20);
        }
    }

    private async Task ConnectWithRetryAsync()
    {
        // The socket file appears at bind(), a moment before listen(): retry refused connects for a while.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_client is null)
        {
            try
            {
                _client = await QmpClient.ConnectAsync(SocketPath, "qmp-test", OnEvent, NullLogger.Instance, CancellationToken.None);
            }
            catch (ToolstackException e) when (e.Kind == ToolstackErrorKind.Unavailable && DateTime.UtcNow < deadline)
            {
                Assert.False(_qemu!.HasExited, "QEMU exited: " + await ReadStderrIfExitedAsync());
                await Task.Delay(20);
            }
        }
    }

    private async Task<string> ReadStderrIfExitedAsync() =>
        _qemu!.HasExited ? await _qemu.StandardError.ReadToEndAsync() : "(still running)";
}
