namespace LightVM.Cri.Instrumentation;

/// <summary>
/// Whether the daemon has finished starting (state reloaded, VMs reconnected). Until then the interceptor answers
/// every call but Version and Status with UNAVAILABLE and the phase it is in, as kubelet expects of a starting runtime.
/// </summary>
public sealed class DaemonReadiness
{
    private volatile string? _phase = "starting";

    /// <summary>True once start-up work is done.</summary>
    public bool IsReady => _phase is null;

    /// <summary>What the daemon is doing while not ready.</summary>
    public string Phase => _phase ?? "ready";

    /// <summary>Records the start-up phase.</summary>
    public void Enter(string phase) => _phase = phase;

    /// <summary>Marks the daemon ready.</summary>
    public void SetReady() => _phase = null;
}
