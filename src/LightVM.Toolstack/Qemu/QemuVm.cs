using System.Net.Sockets;
using System.Text.RegularExpressions;
using LightVM.Toolstack.Internal;
using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

/// <summary>
/// One QEMU microvm. The VMM is daemonized (not our child), so its end is seen as the QMP connection closing,
/// confirmed by the pid leaving /proc; the reason comes from the last SHUTDOWN event, if QEMU sent one.
/// </summary>
internal sealed partial class QemuVm : IVm
{
    private readonly QemuPaths _paths;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<VmExit> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private QmpClient? _qmp;
    private string? _shutdownReason;
    private volatile bool _stopRequested;
    private volatile bool _cleanedUp;

    private QemuVm(VmRecord record, ILogger logger)
    {
        Record = record;
        _paths = new QemuPaths(record.RunDirectory);
        _logger = logger;
    }

    public string Id => Record.Id;

    public VmShape Shape => Record.Shape;

    public VmRecord Record { get; private set; }

    public VmState State => _cleanedUp || _exited.Task.IsCompleted ? VmState.Exited : _stopRequested ? VmState.Stopping : VmState.Running;

    public Task<VmExit> Exited => _exited.Task;

    internal QemuPaths Paths => _paths;

    /// <summary>Connects QMP to a VMM that is running, and starts watching for its end.</summary>
    public static async Task<QemuVm> AttachAsync(VmRecord record, ILogger logger, CancellationToken cancellationToken)
    {
        var vm = new QemuVm(record, logger);
        vm._qmp = await QmpClient.ConnectAsync(vm._paths.QmpSocket, record.Id, vm.OnEvent, logger, cancellationToken).ConfigureAwait(false);
        _ = vm.WatchAsync(vm._qmp);
        return vm;
    }

    /// <summary>Set once the agent answered, before the VM is handed out.</summary>
    internal void SetBootDuration(TimeSpan bootDuration) => Record = Record with { BootDuration = bootDuration };

    /// <summary>
    /// A VM whose VMM is already gone (it died while no daemon watched): Exited at once, kept only so that
    /// <see cref="StopAsync"/> can remove its run directory.
    /// </summary>
    public static QemuVm Dead(VmRecord record, string reason, ILogger logger)
    {
        var vm = new QemuVm(record, logger);
        vm._exited.TrySetResult(new VmExit(reason, DateTimeOffset.UtcNow));
        return vm;
    }

    public async Task<Stream> OpenAgentStreamAsync(CancellationToken cancellationToken)
    {
        if (State != VmState.Running)
        {
            throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {Id}: open agent channel: the VM is {State}");
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_paths.AgentSocket), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {Id}: open agent channel {_paths.AgentSocket}: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task<string> AttachShareAsync(string hostPath, string name, bool readOnly, CancellationToken cancellationToken)
    {
        var target = ShareTarget(name);
        if (!Path.IsPathFullyQualified(hostPath) || !Directory.Exists(hostPath))
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"VM {Id}: attach share {name}: {hostPath} is not an existing absolute directory");
        }

        // Under the lifecycle lock: a share must not appear while StopAsync is unmounting and removing the directory.
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (State != VmState.Running)
            {
                throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {Id}: attach share {name}: the VM is {State}");
            }

            if (Directory.Exists(target))
            {
                throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {Id}: attach share {name}: already attached");
            }

            Directory.CreateDirectory(target);
            try
            {
                HostMounts.Bind(hostPath, target, readOnly);
            }
            catch (ToolstackException e)
            {
                Directory.Delete(target);
                throw new ToolstackException(e.Kind, $"VM {Id}: attach share {name}: {e.Message}", e);
            }
        }
        finally
        {
            _lifecycle.Release();
        }

        ToolstackLog.ShareAttached(_logger, Id, name, hostPath, readOnly);
        return name;
    }

    public async Task DetachShareAsync(string name, CancellationToken cancellationToken)
    {
        var target = ShareTarget(name);
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Directory.Exists(target))
            {
                return;
            }

            HostMounts.UnmountTree(target);
            RemoveUnmounted(target);
        }
        finally
        {
            _lifecycle.Release();
        }

        ToolstackLog.ShareDetached(_logger, Id, name);
    }

    public async Task StopAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_cleanedUp)
            {
                return;
            }

            _stopRequested = true;
            if (IsAlive() && _qmp is not null)
            {
                using var quitTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                quitTimeout.CancelAfter(timeout);
                try
                {
                    await _qmp.QuitAsync(quitTimeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Killed below.
                }
            }

            if (!await VmmProcess.WaitGoneAsync(Record.VmmPid, Record.RunDirectory, timeout, cancellationToken).ConfigureAwait(false))
            {
                await KillAndWaitAsync(cancellationToken).ConfigureAwait(false);
            }

            await CleanUpAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public async Task KillAsync(CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_cleanedUp)
            {
                return;
            }

            _stopRequested = true;
            await KillAndWaitAsync(cancellationToken).ConfigureAwait(false);
            await CleanUpAsync().ConfigureAwait(false);
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    public VmInfo Describe() => new(
        Id, "qemu", Shape, Record.VmmPid, Record.Accel, Record.PreparedAt, Record.BootDuration, Record.RunDirectory, FromPool: false);

    public string ConsoleTail(int maxChars = 600) => _paths.ConsoleTail(maxChars);

    /// <summary>Drops the QMP connection without touching the VMM (daemon shutdown leaves VMs running).</summary>
    public async ValueTask DisposeAsync()
    {
        var qmp = Interlocked.Exchange(ref _qmp, null);
        if (qmp is not null)
        {
            await qmp.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal bool IsAlive() => VmmProcess.IsAlive(Record.VmmPid, Record.RunDirectory);

    private async Task KillAndWaitAsync(CancellationToken cancellationToken)
    {
        if (!IsAlive())
        {
            return;
        }

        VmmProcess.Kill(Record.VmmPid);
        if (!await VmmProcess.WaitGoneAsync(Record.VmmPid, Record.RunDirectory, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
        {
            throw new ToolstackException(ToolstackErrorKind.Internal, $"VM {Id}: kill: VMM pid {Record.VmmPid} survived SIGKILL for 10 s");
        }
    }

    /// <summary>Shares first (so nothing of the pod is reachable through the run directory), then the directory.</summary>
    private async Task CleanUpAsync()
    {
        await DisposeAsync().ConfigureAwait(false);
        HostMounts.UnmountTree(_paths.Share);
        RemoveUnmounted(Record.RunDirectory);
        _cleanedUp = true;
        _exited.TrySetResult(new VmExit(_shutdownReason ?? "stopped by request", DateTimeOffset.UtcNow));
        ToolstackLog.Stopped(_logger, Id);
    }

    /// <summary>Recursive delete only once no mount is left below: it must never reach into a bound host directory.</summary>
    private void RemoveUnmounted(string path)
    {
        var left = HostMounts.MountsUnder(path);
        if (left.Count > 0)
        {
            throw new ToolstackException(ToolstackErrorKind.Internal, $"VM {Id}: remove {path}: still mounted: {string.Join(", ", left)}");
        }

        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private string ShareTarget(string name)
    {
        if (!ShareName().IsMatch(name))
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"VM {Id}: share name \"{name}\": use 1-64 of [A-Za-z0-9._-], not starting with '.'");
        }

        return Path.Combine(_paths.Share, name);
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        if (qmpEvent.Name == "SHUTDOWN")
        {
            var reason = qmpEvent.Data.ValueKind == System.Text.Json.JsonValueKind.Object &&
                         qmpEvent.Data.TryGetProperty("reason", out var r) ? r.GetString() : null;
            _shutdownReason = reason switch
            {
                "host-qmp-quit" => "stopped by request",
                "guest-shutdown" => "guest powered off",
                "guest-reset" => "guest rebooted (reboot exits the VM)",
                "guest-panic" => "guest kernel panicked",
                null => "VMM shut down",
                _ => "VMM shut down: " + reason,
            };
        }
        else if (qmpEvent.Name == "GUEST_PANICKED")
        {
            _shutdownReason = "guest kernel panicked";
        }
    }

    private async Task WatchAsync(QmpClient qmp)
    {
        try
        {
            await qmp.Completion.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Any end of the connection means the same here.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        if (_qmp != qmp)
        {
            // We closed it ourselves (dispose or cleanup); cleanup reports the exit.
            return;
        }

        await VmmProcess.WaitGoneAsync(Record.VmmPid, Record.RunDirectory, TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
        var reason = _shutdownReason ?? "VMM exited unexpectedly (killed or crashed; no shutdown event)";
        if (_exited.TrySetResult(new VmExit(reason, DateTimeOffset.UtcNow)))
        {
            ToolstackLog.Exited(_logger, Id, reason);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ShareName();
}
