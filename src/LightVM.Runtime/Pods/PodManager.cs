using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Images;
using LightVM.Protos.Agent.V1;
using LightVM.Runtime.Internal;
using LightVM.Runtime.Store;
using ContainerState = LightVM.Runtime.Store.ContainerState;
using LightVM.Toolstack;
using LightVM.Toolstack.Pool;
using Microsoft.Extensions.Logging;

namespace LightVM.Runtime.Pods;

/// <summary>
/// Pod sandboxes as VMs, and their containers (PodManager.Containers.cs, .Exec.cs). A pod is one VM from the
/// (pooled) backend with the pod directory <c>&lt;state.root&gt;/pods/&lt;id&gt;</c> attached as share <c>pod</c>, which
/// the agent mounts at <c>/run/lightvm/share</c>; container rootfs are overlays mounted inside that share.
/// </summary>
public sealed partial class PodManager : IAsyncDisposable
{
    /// <summary>Where the guest mounts the VM's share.</summary>
    public const string GuestShareRoot = "/run/lightvm/share";

    private const string ShareName = "pod";
    private readonly IVmBackend _backend;

    /// <summary>Pod and container starts, which pool refills wait for (see <see cref="ForegroundWork"/>).</summary>
    private readonly ForegroundWork _foreground;
    private readonly ToolstackOptions _toolstack;
    private readonly ImageManager _images;
    private readonly PodStore _pods;
    private readonly ContainerStore _containers;
    private readonly RuntimeSettings _settings;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, LivePod> _live = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);

    // One lock per pod for stop and VMM-death handling: a pod whose VM takes its stop timeout to go does not hold up
    // any other pod. Removed with the pod; never disposed, so a late waiter on a removed pod's lock cannot fault.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _podLocks = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();

    public PodManager(
        IVmBackend backend, ToolstackOptions toolstack, ImageManager images, PodStore pods, ContainerStore containers,
        RuntimeSettings settings, ILoggerFactory loggerFactory, ForegroundWork? foreground = null)
    {
        _backend = backend;
        _foreground = foreground ?? new ForegroundWork();
        _toolstack = toolstack;
        _images = images;
        _pods = pods;
        _containers = containers;
        _settings = settings;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("LightVM.Runtime");

        foreach (var pod in _pods.List())
        {
            _names[PodNameKey(pod.Metadata.Name, pod.Metadata.Namespace, pod.Metadata.Uid, pod.Metadata.Attempt)] = pod.Metadata.Id;
        }

        foreach (var container in _containers.List())
        {
            _names[ContainerNameKey(container.Metadata.PodId, container.Metadata.Name, container.Metadata.Attempt)] = container.Metadata.Id;
        }
    }

    /// <summary>
    /// The probe the backend runs on a new VM, part of prepare (off the RunPodSandbox path): a protocol handshake
    /// with the agent, then the guest mounts the VM's share root. Pod directories bound below the share root later,
    /// at claim time, appear in the guest at once, so a claim needs no guest mount.
    /// </summary>
    public static AgentProbe GuestReady { get; } = (stream, cancellationToken) => OnOneStreamAsync(stream, "probe", async client =>
    {
        try
        {
            await client.MountShareAsync(ShareRootMount(), cancellationToken).ConfigureAwait(false);
        }
        catch (AgentException e) when (e.Kind == AgentErrorKind.AlreadyExists)
        {
            // An earlier probe of this VM mounted it and lost the answer.
        }
    }, cancellationToken);

    /// <summary>
    /// The background warm-up: one throwaway container, its rootfs on the share root like a pod's, so a pooled
    /// VM's first real container start runs warm guest code. Runs after <see cref="GuestReady"/> mounted the share.
    /// </summary>
    public static AgentProbe GuestWarmUp { get; } = (stream, cancellationToken) => OnOneStreamAsync(stream, "warm-up", async client =>
        await client.WarmUpAsync(new WarmUpRequest { ScratchDir = GuestShareRoot }, cancellationToken).ConfigureAwait(false), cancellationToken);

    /// <summary>A handshake and <paramref name="calls"/> on the one stream the backend handed over (it owns it).</summary>
    private static async Task OnOneStreamAsync(Stream stream, string name, Func<AgentClient, Task> calls, CancellationToken cancellationToken)
    {
        var handed = false;
        await using var client = new AgentClient(
            _ => handed ? throw new AgentException(AgentErrorKind.Unavailable, $"{name} stream already used") : new ValueTask<Stream>(Take()),
            new AgentClientOptions { Name = name });
        await client.ConnectAsync(cancellationToken).ConfigureAwait(false);
        await calls(client).ConfigureAwait(false);

        Stream Take()
        {
            handed = true;
            return new NonDisposingStream(stream);
        }
    }

    public async Task<string> RunPodSandboxAsync(PodSpec spec, CancellationToken cancellationToken)
    {
        using var foreground = _foreground.Begin();
        if (string.IsNullOrEmpty(spec.Name))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "pod sandbox metadata.name is required");
        }

        var id = NewId();
        var nameKey = PodNameKey(spec.Name, spec.Namespace, spec.Uid, spec.Attempt);
        if (!_names.TryAdd(nameKey, id))
        {
            throw new RuntimeException(RuntimeErrorKind.AlreadyExists,
                $"pod sandbox name \"{spec.Name}\" (namespace \"{spec.Namespace}\", uid \"{spec.Uid}\", attempt {spec.Attempt}) is already used by pod {_names.GetValueOrDefault(nameKey)}");
        }

        var undo = new Stack<(string Step, Func<Task> Action)>();
        undo.Push(("release name", () => { _names.TryRemove(nameKey, out _); return Task.CompletedTask; }));
        IVm? prepared = null;
        try
        {
            var shape = _toolstack.ShapeFor(spec.Cpus, spec.MemoryBytes);
            var claim = Stopwatch.StartNew();
            var vm = await _backend.PrepareAsync(shape, cancellationToken).ConfigureAwait(false);
            prepared = vm;
            undo.Push(("stop VM", async () =>
            {
                await vm.KillAsync(CancellationToken.None).ConfigureAwait(false);
                await vm.DisposeAsync().ConfigureAwait(false);
            }));

            var podDir = Path.Combine(_settings.StateRoot, "pods", id);
            Directory.CreateDirectory(Path.Combine(podDir, "containers"));
            undo.Push(("remove pod directory", () => { DeleteTree(podDir); return Task.CompletedTask; }));
            PodFiles.Write(podDir, spec.Dns, spec.Hostname, "/etc/resolv.conf");

            var relative = await vm.AttachShareAsync(podDir, ShareName, readOnly: false, cancellationToken).ConfigureAwait(false);
            var shareHostPath = Path.Combine(vm.Describe().RunDirectory, "share", relative);
            undo.Push(("detach share", () => vm.DetachShareAsync(ShareName, CancellationToken.None)));

            var agent = new AgentClient(
                ct => new ValueTask<Stream>(vm.OpenAgentStreamAsync(ct)),
                new AgentClientOptions { Name = $"pod-{id[..12]}" },
                _loggerFactory.CreateLogger<AgentClient>());
            undo.Push(("close agent", () => agent.DisposeAsync().AsTask()));
            await agent.ConnectAsync(cancellationToken).ConfigureAwait(false);
            claim.Stop();

            var info = vm.Describe();
            var metadata = new PodMetadata(id, spec.Name, spec.Namespace, spec.Uid, spec.Attempt, spec.Labels, spec.Annotations,
                spec.LogDirectory, spec.Hostname, podDir, DateTimeOffset.UtcNow);
            _pods.Insert(new PodRecord(metadata, new PodStatus(PodState.Ready, vm.Record, info.FromPool, claim.Elapsed, null)));
            var live = new LivePod(vm, agent, shareHostPath);
            _live[id] = live;
            _ = Task.Run(() => WatchVmAsync(id, live), CancellationToken.None);
            RuntimeLog.PodReady(_logger, id, spec.Name, vm.Id, info.FromPool ? "pooled" : "cold", claim.ElapsedMilliseconds);
            return id;
        }
        catch (Exception e)
        {
            if (e is AgentException && prepared is not null)
            {
                // Read before the rollback removes the VM: the guest's last words usually say why the agent failed.
                RuntimeLog.PodAgentFailedConsole(_logger, spec.Name, prepared.ConsoleTail(2000));
            }

            while (undo.TryPop(out var step))
            {
                try
                {
                    await step.Action().ConfigureAwait(false);
                }
                catch (Exception stepError)
                {
                    RuntimeLog.RollbackStepFailed(_logger, spec.Name, step.Step, stepError.Message);
                }
            }

            RuntimeLog.PodRolledBack(_logger, spec.Name, e.Message);
            throw;
        }
    }

    /// <summary>Stops the pod's containers and its VM. Idempotent; unknown ids are NotFound.</summary>
    public async Task StopPodSandboxAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        var pod = ResolvePod(idOrPrefix);
        var id = pod.Metadata.Id;
        var podLock = PodLock(id);
        await podLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_live.TryRemove(id, out var live))
            {
                foreach (var container in _containers.ListInPod(id).Where(c => c.Status.State == ContainerState.Running))
                {
                    await KillForPodStopAsync(live, container.Metadata.Id, cancellationToken).ConfigureAwait(false);
                }

                foreach (var watch in live.Watches.Values)
                {
                    await watch.Stop.CancelAsync().ConfigureAwait(false);
                }

                await live.Agent.DisposeAsync().ConfigureAwait(false);
                foreach (var container in _containers.ListInPod(id))
                {
                    UnmountContainer(live.ShareHostPath, container.Metadata);
                }

                // Stopping the VM detaches the share and everything mounted below it.
                await live.Vm.StopAsync(_settings.VmStopTimeout, cancellationToken).ConfigureAwait(false);
                await live.Vm.DisposeAsync().ConfigureAwait(false);
                foreach (var watch in live.Watches.Values)
                {
                    await Quietly(watch.LogPump).ConfigureAwait(false);
                }
            }
            else if (pod.Status.Vm is { } orphan)
            {
                // A VM of an earlier daemon (not reattached yet): find it by its record and stop it, so a pod
                // stopped after a restart does not leak its VMM.
                await StopOrphanAsync(orphan, cancellationToken).ConfigureAwait(false);
            }

            var now = DateTimeOffset.UtcNow;
            foreach (var container in _containers.ListInPod(id).Where(c => c.Status.State != ContainerState.Exited))
            {
                _containers.Update(container.Metadata.Id, s => s with
                {
                    State = ContainerState.Exited, FinishedAt = now, ExitCode = 137, Reason = "Error", Message = "the pod sandbox was stopped",
                });
            }

            if (pod.Status.State != PodState.NotReady || pod.Status.Vm is not null)
            {
                _pods.Update(id, s => s with { State = PodState.NotReady, Vm = null, NotReadyReason = "stopped" });
                RuntimeLog.PodStopped(_logger, id);
            }
        }
        finally
        {
            podLock.Release();
        }
    }

    /// <summary>Stops the pod if needed, removes its containers, directories and record. Idempotent.</summary>
    public async Task RemovePodSandboxAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        var pod = TryResolvePod(idOrPrefix);
        if (pod is null)
        {
            return;
        }

        await StopPodSandboxAsync(pod.Metadata.Id, cancellationToken).ConfigureAwait(false);
        foreach (var container in _containers.ListInPod(pod.Metadata.Id))
        {
            await RemoveContainerAsync(container.Metadata.Id, cancellationToken).ConfigureAwait(false);
        }

        DeleteTree(pod.Metadata.PodDirectory);
        _pods.Delete(pod.Metadata.Id);
        _podLocks.TryRemove(pod.Metadata.Id, out _);
        _names.TryRemove(PodNameKey(pod.Metadata.Name, pod.Metadata.Namespace, pod.Metadata.Uid, pod.Metadata.Attempt), out _);
        RuntimeLog.PodRemoved(_logger, pod.Metadata.Id);
    }

    /// <summary>The pod and, when it has a live VM, the VM's facts.</summary>
    public (PodRecord Pod, VmInfo? Vm) GetPod(string idOrPrefix)
    {
        var pod = ResolvePod(idOrPrefix);
        return (pod, _live.TryGetValue(pod.Metadata.Id, out var live) ? live.Vm.Describe() : null);
    }

    public IReadOnlyList<PodRecord> ListPods(PodFilter? filter) =>
        _pods.List().Where(p =>
            filter is null ||
            ((string.IsNullOrEmpty(filter.Id) || p.Metadata.Id.StartsWith(filter.Id, StringComparison.Ordinal)) &&
             (filter.State is null || filter.State == p.Status.State) &&
             LabelsMatch(p.Metadata.Labels, filter.Labels))).ToList();

    public async ValueTask DisposeAsync()
    {
        // VMs outlive the daemon on purpose (restart recovery); only our clients, pumps and watchers go.
        await _shutdown.CancelAsync().ConfigureAwait(false);
        foreach (var live in _live.Values)
        {
            foreach (var watch in live.Watches.Values)
            {
                await watch.Stop.CancelAsync().ConfigureAwait(false);
            }

            await live.Agent.DisposeAsync().ConfigureAwait(false);
        }

        _shutdown.Dispose();
    }

    /// <summary>
    /// Waits for the pod's VMM to end by itself. A VM that StopPodSandbox is stopping has left <see cref="_live"/>
    /// first, so only an unexpected death is acted on: the pod goes NotReady and its running containers Exited.
    /// </summary>
    private async Task WatchVmAsync(string podId, LivePod live)
    {
        VmExit exit;
        try
        {
            exit = await live.Vm.Exited.WaitAsync(_shutdown.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var podLock = PodLock(podId);
        await podLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            if (!_live.TryRemove(new KeyValuePair<string, LivePod>(podId, live)))
            {
                return;
            }

            var message = $"VMM exited unexpectedly: {exit.Reason}";
            RuntimeLog.VmmDied(_logger, podId, exit.Reason);
            foreach (var watch in live.Watches.Values)
            {
                await watch.Stop.CancelAsync().ConfigureAwait(false);
            }

            await Quietly(live.Agent.DisposeAsync().AsTask()).ConfigureAwait(false);
            foreach (var container in _containers.ListInPod(podId).Where(c => c.Status.State == ContainerState.Running))
            {
                _containers.Update(container.Metadata.Id, s => s with
                {
                    State = ContainerState.Exited, FinishedAt = exit.At, ExitCode = 255, Reason = "VmmExited", Message = message,
                });
            }

            // Recorded first; the run directory and the share binds are cleaned up next, so no VM is left to stop later.
            _pods.Update(podId, s => s with { State = PodState.NotReady, Vm = null, NotReadyReason = message });
            foreach (var container in _containers.ListInPod(podId))
            {
                UnmountContainer(live.ShareHostPath, container.Metadata);
            }

            await Quietly(live.Vm.StopAsync(_settings.VmStopTimeout, CancellationToken.None)).ConfigureAwait(false);
            await Quietly(live.Vm.DisposeAsync().AsTask()).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RuntimeLog.VmmDeathHandlingFailed(_logger, podId, e.Message);
        }
        finally
        {
            podLock.Release();
        }
    }

    private static MountShareRequest ShareRootMount() => new()
    {
        Source = VmShares.Tag,
        Target = GuestShareRoot,
        Fstype = "9p",
        Options = "trans=virtio,version=9p2000.L,msize=262144",
    };

    private SemaphoreSlim PodLock(string podId) => _podLocks.GetOrAdd(podId, _ => new SemaphoreSlim(1, 1));

    private async Task StopOrphanAsync(VmRecord record, CancellationToken cancellationToken)
    {
        try
        {
            var vm = await _backend.RecoverAsync(record, cancellationToken).ConfigureAwait(false);
            await vm.StopAsync(_settings.VmStopTimeout, cancellationToken).ConfigureAwait(false);
            await vm.DisposeAsync().ConfigureAwait(false);
        }
        catch (ToolstackException e) when (e.Kind == ToolstackErrorKind.NotFound)
        {
            // Its run directory is gone: nothing left to stop.
        }
    }

    private PodRecord ResolvePod(string idOrPrefix) =>
        TryResolvePod(idOrPrefix) ?? throw new RuntimeException(RuntimeErrorKind.NotFound, $"pod sandbox \"{idOrPrefix}\" not found");

    private PodRecord? TryResolvePod(string idOrPrefix) =>
        Resolve(idOrPrefix, "pod sandbox", _pods.Get, () => _pods.List().Select(p => p.Metadata.Id));

    private static T? Resolve<T>(string idOrPrefix, string what, Func<string, T?> get, Func<IEnumerable<string>> ids)
        where T : class
    {
        if (string.IsNullOrEmpty(idOrPrefix))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{what} id is required");
        }

        if (get(idOrPrefix) is { } exact)
        {
            return exact;
        }

        var matches = ids().Where(i => i.StartsWith(idOrPrefix, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => get(matches[0]),
            _ => throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"{what} id prefix \"{idOrPrefix}\" is ambiguous"),
        };
    }

    private static bool LabelsMatch(IReadOnlyDictionary<string, string> labels, IReadOnlyDictionary<string, string>? wanted) =>
        wanted is null || wanted.All(w => labels.TryGetValue(w.Key, out var v) && v == w.Value);

    private static string NewId() => RandomNumberGenerator.GetHexString(64, lowercase: true);

    private static string PodNameKey(string name, string ns, string uid, uint attempt) => $"pod/{name}_{ns}_{uid}_{attempt}";

    private static string ContainerNameKey(string podId, string name, uint attempt) => $"container/{podId}/{name}_{attempt}";

    private static void DeleteTree(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Pumps and waiters end with errors when the VM goes away under them; their records are settled by the caller.
        }
    }
}
