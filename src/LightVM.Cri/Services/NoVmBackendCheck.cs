namespace LightVM.Cri.Services;

/// <summary>
/// Holds RuntimeReady false until a VM backend is built in: the daemon serves CRI, but cannot run a pod yet.
/// Replaced by the toolstack's own check when the pods-as-VMs issue lands.
/// </summary>
internal sealed class NoVmBackendCheck : IReadinessCheck
{
    public string Name => "vm-backend";

    public (string Reason, string Message)? Check() =>
        ("NoVmBackend", "no VM backend is built into this lightvm yet, so pods cannot run");
}
