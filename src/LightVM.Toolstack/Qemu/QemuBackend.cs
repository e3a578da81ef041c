using System.Diagnostics;
using System.Globalization;
using System.Text;
using LightVM.Toolstack.Internal;
using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

/// <summary>
/// VMs as QEMU microvm processes, one per VM, each with its own run directory under
/// <c>&lt;run root&gt;/vms/&lt;id&gt;</c>. Prepare = start the VMM with the guest kernel and initramfs, connect QMP,
/// and wait for the caller's agent probe to succeed on the agent channel.
/// </summary>
public sealed partial class QemuBackend : IVmBackend
{
    private readonly ToolstackOptions _options;
    private readonly string _vmsRoot;
    private readonly AgentProbe _probe;
    private readonly AgentProbe? _warmUp;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _accelLock = new(1, 1);
    private readonly Lazy<long?> _hostTscKhz = new(HostTscKhz);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _mine = new(StringComparer.Ordinal);
    private AccelChoice? _accel;

    // Cleared the first time a VMM cannot be put back to normal priority: later refills boot at normal priority.
    private volatile bool _backgroundNice;

    /// <param name="runRoot">The daemon's <c>state.run_root</c>.</param>
    /// <param name="probe">Decides when a guest's agent is ready; <see cref="AgentProbes.FirstLine"/> needs no protocol.</param>
    /// <param name="warmUp">
    /// Run once, after the probe, in VMs prepared in the background when <see cref="ToolstackOptions.BackgroundWarmUp"/>
    /// is on: workload-independent guest work that makes the pod's start faster later (e.g. a throwaway container).
    /// </param>
    public QemuBackend(ToolstackOptions options, string runRoot, AgentProbe probe, ILoggerFactory loggerFactory, AgentProbe? warmUp = null)
    {
        _options = options;
        _vmsRoot = Path.Combine(runRoot, "vms");
        _probe = probe;
        _warmUp = options.BackgroundWarmUp ? warmUp : null;
        _logger = loggerFactory.CreateLogger<QemuBackend>();
        _backgroundNice = options.BackgroundBootNice > 0 && VmmPriority.CanRaise();
    }

    /// <summary>The accelerator in use, once chosen; null before the first prepare.</summary>
    public AccelChoice? Accel => _accel;

    public Task WarmUpAsync(CancellationToken cancellationToken) => ResolveAccelAsync(cancellationToken);

    public Task<IVm> PrepareAsync(VmShape shape, CancellationToken cancellationToken) =>
        PrepareAtAsync(shape, 0, warmUp: null, cancellationToken);

    public Task<IVm> PrepareInBackgroundAsync(VmShape shape, CancellationToken cancellationToken) =>
        PrepareAtAsync(shape, _backgroundNice ? _options.BackgroundBootNice : 0, _warmUp, cancellationToken);

    public async Task<IVm> RecoverAsync(VmRecord record, CancellationToken cancellationToken)
    {
        if (record.Backend != "qemu")
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"VM {record.Id}: recover: record is for backend \"{record.Backend}\", not qemu");
        }

        if (!Directory.Exists(record.RunDirectory))
        {
            throw new ToolstackException(ToolstackErrorKind.NotFound, $"VM {record.Id}: recover: run directory {record.RunDirectory} is gone");
        }

        if (!VmmProcess.IsAlive(record.VmmPid, record.RunDirectory))
        {
            // Still returned, as Exited, so the caller can report why and StopAsync can clean up.
            var reason = $"VMM pid {record.VmmPid} exited while the daemon was down";
            ToolstackLog.Exited(_logger, record.Id, reason);
            return QemuVm.Dead(record, reason, _logger);
        }

        _mine[record.RunDirectory] = 0;
        var vm = await QemuVm.AttachAsync(record, _logger, cancellationToken).ConfigureAwait(false);
        ToolstackLog.Recovered(_logger, record.Id, record.VmmPid);
        return vm;
    }

    /// <summary>
    /// The accelerator for this daemon's life. For <c>auto</c>, KVM is tried by booting a real VM once: a device
    /// node that opens is not enough (a PVM /dev/kvm opens, then crashes a stock guest).
    /// </summary>
    public async Task<AccelChoice> ResolveAccelAsync(CancellationToken cancellationToken)
    {
        if (_accel is not null)
        {
            return _accel;
        }

        await _accelLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_accel is not null)
            {
                return _accel;
            }

            var choice = _options.Accel switch
            {
                AccelMode.Tcg => new AccelChoice("tcg", "configured"),
                AccelMode.Kvm => new AccelChoice("kvm", "configured"),
                _ => await ProbeKvmAsync(cancellationToken).ConfigureAwait(false),
            };
            if (choice.FellBack)
            {
                ToolstackLog.AccelFallback(_logger, choice.Reason);
            }
            else
            {
                ToolstackLog.AccelChosen(_logger, choice.Accel, choice.Reason);
            }

            _accel = choice;
            return choice;
        }
        finally
        {
            _accelLock.Release();
        }
    }

    private async Task<AccelChoice> ProbeKvmAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists("/dev/kvm"))
        {
            return new AccelChoice("tcg", "no /dev/kvm on this host", FellBack: true);
        }

        try
        {
            var limit = new BootLimit(TimeSpan.FromSeconds(_options.KvmProbeTimeoutSeconds), "toolstack.kvm_probe_timeout_seconds");
            var probe = await PrepareCoreAsync(new VmShape(1, _options.DefaultMemoryMib), "kvm", limit, 0, warmUp: null, cancellationToken).ConfigureAwait(false);
            await probe.KillAsync(cancellationToken).ConfigureAwait(false);
            return new AccelChoice("kvm", "test boot under KVM reached the agent");
        }
        catch (ToolstackException e) when (e.Kind == ToolstackErrorKind.DeadlineExceeded)
        {
            // A /dev/kvm that opens may still not run this guest (nested or paravirtual KVM): it hangs or crashes
            // without a word on the console.
            return new AccelChoice(
                "tcg", $"test boot under KVM did not reach the agent (a /dev/kvm that exists may still not run guests; toolstack.accel=tcg skips this test): {e.Message}", FellBack: true);
        }
        catch (ToolstackException e)
        {
            return new AccelChoice("tcg", "test boot under KVM failed: " + e.Message, FellBack: true);
        }
    }

    private async Task<IVm> PrepareAtAsync(VmShape shape, int nice, AgentProbe? warmUp, CancellationToken cancellationToken)
    {
        shape.EnsureValid();
        var accel = await ResolveAccelAsync(cancellationToken).ConfigureAwait(false);
        var limit = new BootLimit(TimeSpan.FromSeconds(_options.BootTimeoutSeconds), "toolstack.boot_timeout_seconds");
        return await PrepareCoreAsync(shape, accel.Accel, limit, nice, warmUp, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <param name="nice">Above 0: boot at this nice value and return to normal priority once the agent answered.</param>
    /// <param name="warmUp">Run once after the probe, within the boot timeout; its failure fails the prepare.</param>
    private async Task<QemuVm> PrepareCoreAsync(
        VmShape shape, string accel, BootLimit limit, int nice, AgentProbe? warmUp, CancellationToken cancellationToken)
    {
        var id = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 6));
        var paths = new QemuPaths(Path.Combine(_vmsRoot, id));
        _mine[paths.RunDirectory] = 0;
        CheckHost(id, paths);
        ToolstackLog.Preparing(_logger, id, shape, accel);

        var started = Stopwatch.StartNew();
        var preparedAt = DateTimeOffset.UtcNow;
        var pid = 0;
        QemuVm? vm = null;
        var step = "create run directory";
        try
        {
            Directory.CreateDirectory(_vmsRoot);
            Directory.CreateDirectory(paths.RunDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(paths.Share);

            step = "start QEMU";
            var arguments = QemuCommandLine.Build(_options, shape, accel, paths, id, _hostTscKhz.Value);
            pid = await StartQemuAsync(id, arguments, paths, limit.Time, nice, cancellationToken).ConfigureAwait(false);

            step = "connect QMP";
            var record = new VmRecord(id, "qemu", shape, paths.RunDirectory, pid, accel, preparedAt, TimeSpan.Zero);
            vm = await QemuVm.AttachAsync(record, _logger, cancellationToken).ConfigureAwait(false);

            step = "wait for the agent";
            await WaitForAgentAsync(vm, limit, limit.Time - started.Elapsed, cancellationToken).ConfigureAwait(false);
            if (warmUp is not null)
            {
                step = "warm up the guest";
                var warmUpStarted = Stopwatch.GetTimestamp();
                await RunWarmUpAsync(vm, warmUp, limit, limit.Time - started.Elapsed, cancellationToken).ConfigureAwait(false);
                ToolstackLog.WarmedUp(_logger, id, Stopwatch.GetElapsedTime(warmUpStarted).TotalMilliseconds);
            }

            if (nice > 0)
            {
                step = "return the VMM to normal priority";
                if (!VmmPriority.TryRaiseToNormal(pid, out var problem))
                {
                    // Never hand out a VM stuck at low priority: this one is rolled back, later ones boot at normal.
                    _backgroundNice = false;
                    ToolstackLog.BackgroundNiceDisabled(_logger, id, problem);
                    throw new ToolstackException(ToolstackErrorKind.Internal, $"VM {id}: {step}: {problem}");
                }

                ToolstackLog.BackgroundBoot(_logger, id, nice);
            }

            vm.SetBootDuration(started.Elapsed);
            ToolstackLog.Prepared(_logger, id, shape, accel, pid, started.ElapsedMilliseconds);
            return vm;
        }
        catch (Exception e)
        {
            await RollBackAsync(id, paths, pid, vm).ConfigureAwait(false);
            ToolstackLog.PrepareFailed(_logger, id, e.Message);
            throw e switch
            {
                ToolstackException te when te.Message.Contains(id, StringComparison.Ordinal) => te,
                ToolstackException te => new ToolstackException(te.Kind, $"VM {id}: {step}: {te.Message}", te),
                OperationCanceledException => e,
                IOException or UnauthorizedAccessException =>
                    new ToolstackException(ToolstackErrorKind.Internal, $"VM {id}: {step}: {e.Message}", e),
                _ => e,
            };
        }
    }

    /// <summary>The host CPU clock from /proc/cpuinfo ("cpu MHz"), which TCG guests' TSC runs at.</summary>
    private static long? HostTscKhz()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu MHz", StringComparison.Ordinal));
            var colon = line?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            return colon >= 0 && double.TryParse(line![(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) && mhz > 0
                ? (long)(mhz * 1000)
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private void CheckHost(string id, QemuPaths paths)
    {
        if (Encoding.UTF8.GetByteCount(paths.AgentSocket) > QemuPaths.MaxSocketPath)
        {
            throw new ToolstackException(ToolstackErrorKind.InvalidArgument,
                $"VM {id}: socket path {paths.AgentSocket} exceeds {QemuPaths.MaxSocketPath} bytes; use a shorter state.run_root");
        }

        foreach (var (key, path) in new[] { ("toolstack.kernel", _options.Kernel), ("toolstack.initrd", _options.Initrd) })
        {
            if (!File.Exists(path))
            {
                throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {id}: {key} {path} does not exist");
            }
        }
    }

    /// <summary>Runs QEMU's launcher process; with -daemonize it exits once the VM is set up, leaving the VMM.</summary>
    /// <param name="nice">Above 0: started through nice(1), so every VMM thread inherits it from the start.</param>
    private async Task<int> StartQemuAsync(string id, List<string> arguments, QemuPaths paths, TimeSpan timeout, int nice, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(nice > 0 ? "nice" : _options.QemuBinary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (nice > 0)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(nice.ToString(CultureInfo.InvariantCulture));
            start.ArgumentList.Add(_options.QemuBinary);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process launcher;
        try
        {
            launcher = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {id}: start {_options.QemuBinary}: {e.Message}", e);
        }

        using (launcher)
        {
            launcher.StandardInput.Close();
            var stderr = launcher.StandardError.ReadToEndAsync(cancellationToken);
            var stdout = launcher.StandardOutput.ReadToEndAsync(cancellationToken);
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            try
            {
                await launcher.WaitForExitAsync(timeoutSource.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                launcher.Kill(entireProcessTree: true);
                throw new ToolstackException(ToolstackErrorKind.DeadlineExceeded, $"VM {id}: start QEMU: no VMM after {timeout.TotalSeconds:0} s");
            }

            var errors = ((await stderr.ConfigureAwait(false)) + (await stdout.ConfigureAwait(false))).Trim();
            if (launcher.ExitCode != 0)
            {
                throw new ToolstackException(ToolstackErrorKind.FailedPrecondition, $"VM {id}: start QEMU: exit code {launcher.ExitCode}: {errors}");
            }
        }

        var text = await File.ReadAllTextAsync(paths.PidFile, cancellationToken).ConfigureAwait(false);
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            throw new ToolstackException(ToolstackErrorKind.Internal, $"VM {id}: start QEMU: pid file {paths.PidFile} holds \"{text.Trim()}\"");
        }

        return pid;
    }

    private async Task RollBackAsync(string id, QemuPaths paths, int pid, QemuVm? vm)
    {
        try
        {
            if (vm is not null)
            {
                await vm.DisposeAsync().ConfigureAwait(false);
            }

            if (pid == 0 && File.Exists(paths.PidFile) &&
                int.TryParse((await File.ReadAllTextAsync(paths.PidFile).ConfigureAwait(false)).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var written))
            {
                // The launcher failed or timed out after the VMM had forked and written its pid.
                pid = written;
            }

            if (pid > 0 && VmmProcess.IsAlive(pid, paths.RunDirectory))
            {
                VmmProcess.Kill(pid);
                await VmmProcess.WaitGoneAsync(pid, paths.RunDirectory, TimeSpan.FromSeconds(10), CancellationToken.None).ConfigureAwait(false);
            }

            HostMounts.UnmountTree(paths.RunDirectory);
            if (Directory.Exists(paths.RunDirectory) && HostMounts.MountsUnder(paths.RunDirectory).Count == 0)
            {
                Directory.Delete(paths.RunDirectory, recursive: true);
            }
        }
#pragma warning disable CA1031 // Rollback is best effort; the original failure is what the caller sees.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ToolstackLog.CleanupFailed(_logger, id, "rollback", e.Message);
        }
    }
}

/// <summary>The accelerator chosen for the daemon's life, and why.</summary>
public sealed record AccelChoice(string Accel, string Reason, bool FellBack = false);
