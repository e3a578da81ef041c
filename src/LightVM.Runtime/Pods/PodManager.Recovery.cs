using LightVM.Agent.Protocol.Client;
using LightVM.Runtime.Store;
using LightVM.Toolstack;
using Microsoft.Extensions.Logging;
using ContainerState = LightVM.Runtime.Store.ContainerState;

namespace LightVM.Runtime.Pods;

public sealed partial class PodManager
{
    /// <summary>
    /// Reattaches to the VMs of the pods a previous daemon left Ready (run at start, before pod calls are served):
    /// the VM from its record, a fresh agent client, the log pump of each running container from the last offset
    /// written, and the watch on the VM's end. A VM that is gone makes its pod NotReady as a VMM death does.
    /// </summary>
    public async Task RecoverAsync(CancellationToken cancellationToken)
    {
        foreach (var pod in _pods.List().Where(p => p.Status.State == PodState.Ready))
        {
            await RecoverPodAsync(pod, cancellationToken).ConfigureAwait(false);
        }

        // Whatever VM no pod record names (an earlier daemon's idle pool VMs) would otherwise run forever.
        var keep = _pods.List().Where(p => p.Status.Vm is not null).Select(p => p.Status.Vm!.RunDirectory).ToList();
        await _backend.StopOrphansAsync(keep, cancellationToken).ConfigureAwait(false);
    }

    private async Task RecoverPodAsync(PodRecord pod, CancellationToken cancellationToken)
    {
        var id = pod.Metadata.Id;
        if (pod.Status.Vm is not { } record)
        {
            MarkLost(id, "daemon restarted; the pod record has no VM");
            return;
        }

        IVm vm;
        try
        {
            vm = await _backend.RecoverAsync(record, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolstackException e)
        {
            MarkLost(id, $"daemon restarted; VM not recovered: {e.Message}");
            return;
        }

        var shareHostPath = Path.Combine(record.RunDirectory, "share", ShareName);
        var agent = new AgentClient(
            ct => new ValueTask<Stream>(vm.OpenAgentStreamAsync(ct)),
            new AgentClientOptions { Name = $"pod-{id[..12]}" },
            _loggerFactory.CreateLogger<AgentClient>());
        var live = new LivePod(vm, agent, shareHostPath);
        _live[id] = live;
        foreach (var container in _containers.ListInPod(id).Where(c => c.Status.State == ContainerState.Running))
        {
            WatchContainer(live, container);
        }

        // A VM that died while the daemon was down comes back already Exited: the watch handles it like any death.
        _ = Task.Run(() => WatchVmAsync(id, live), CancellationToken.None);
        RuntimeLog.PodRecovered(_logger, id, vm.Id, live.Watches.Count);
    }

    private void MarkLost(string podId, string reason)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var container in _containers.ListInPod(podId).Where(c => c.Status.State == ContainerState.Running))
        {
            _containers.Update(container.Metadata.Id, s => s with
            {
                State = ContainerState.Exited, FinishedAt = now, ExitCode = 255, Reason = "VmmExited", Message = reason,
            });
        }

        _pods.Update(podId, s => s with { State = PodState.NotReady, NotReadyReason = reason });
        RuntimeLog.PodNotRecovered(_logger, podId, reason);
    }

    /// <summary>Starts the log pump (from the last offset written) and the exit waiter of a running container.</summary>
    private void WatchContainer(LivePod live, ContainerRecord container)
    {
        var id = container.Metadata.Id;
        var offsetPath = LogOffsetPath(container);
        var stop = new CancellationTokenSource();
        var log = new ReopenableLog(container.Metadata.LogPath);
        // Pumped even without a log path: the guest buffers output only up to a bound, then the container blocks.
        var pump = Task.Run(() => CriLogWriter.PumpAsync(live.Agent, id, log, offsetPath, _logger, stop.Token), CancellationToken.None);
        var exited = Task.Run(() => WaitExitAsync(live, id, stop.Token), CancellationToken.None);
        live.Watches[id] = new ContainerWatch(exited, pump, stop, log);
    }

    private string LogOffsetPath(ContainerRecord container) =>
        Path.Combine(_pods.Get(container.Metadata.PodId)?.Metadata.PodDirectory ?? Path.Combine(_settings.StateRoot, "pods", container.Metadata.PodId),
            container.Metadata.Directory, "log.offset");
}
