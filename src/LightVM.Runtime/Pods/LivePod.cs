using System.Collections.Concurrent;
using LightVM.Agent.Protocol.Client;
using LightVM.Toolstack;

namespace LightVM.Runtime.Pods;

/// <summary>The in-memory side of a ready pod: its VM, the agent client and the tasks watching its containers.</summary>
internal sealed class LivePod(IVm vm, AgentClient agent, string shareHostPath)
{
    public IVm Vm { get; } = vm;

    public AgentClient Agent { get; } = agent;

    /// <summary>Where the pod directory appears inside the VM's share on the host (the bind target).</summary>
    public string ShareHostPath { get; } = shareHostPath;

    /// <summary>Per running container: the log pump and exit waiter, and the token that stops the pump.</summary>
    public ConcurrentDictionary<string, ContainerWatch> Watches { get; } = new(StringComparer.Ordinal);
}

internal sealed class ContainerWatch(Task exited, Task logPump, CancellationTokenSource stop, ReopenableLog log)
{
    /// <summary>Completes once the container's exit is recorded.</summary>
    public Task Exited { get; } = exited;

    public Task LogPump { get; } = logPump;

    public CancellationTokenSource Stop { get; } = stop;

    /// <summary>The log file the pump writes, for ReopenContainerLog.</summary>
    public ReopenableLog Log { get; } = log;
}
