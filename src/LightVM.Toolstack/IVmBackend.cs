namespace LightVM.Toolstack;

/// <summary>
/// A source of VMs, split the LightVM way. <see cref="PrepareAsync"/> does everything that does not depend on the
/// workload (start the VMM or create the domain, load the guest, boot it, wait for its agent) so it can run ahead of
/// time in a pool; the workload-specific part (shares, then whatever the caller asks the agent) happens on the
/// returned <see cref="IVm"/>.
/// </summary>
public interface IVmBackend
{
    /// <summary>
    /// The one-time host work every VM needs before its first boot (QEMU: choosing the accelerator, which for
    /// <c>auto</c> is a test boot). Called at start-up so the first RunPodSandbox does not pay for it; PrepareAsync
    /// does it too if nothing did. A failure here is reported again by PrepareAsync.
    /// </summary>
    Task WarmUpAsync(CancellationToken cancellationToken);

    /// <summary>A booted VM of <paramref name="shape"/> whose agent answered the readiness probe.</summary>
    /// <exception cref="ToolstackException">Nothing of the failed VM is left behind.</exception>
    Task<IVm> PrepareAsync(VmShape shape, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="PrepareAsync"/> for a VM nobody waits for yet (a pool refill): the backend may boot it with less
    /// CPU priority than pod work, so refills never slow the pods running or starting; the VM it returns runs at
    /// normal priority like any other.
    /// </summary>
    Task<IVm> PrepareInBackgroundAsync(VmShape shape, CancellationToken cancellationToken);

    /// <summary>
    /// Reattaches to a VM a previous daemon prepared, from the record it persisted. A VM whose VMM died meanwhile
    /// comes back <see cref="VmState.Exited"/> (so <see cref="IVm.StopAsync"/> can clean up); NotFound when even
    /// its run directory is gone.
    /// </summary>
    Task<IVm> RecoverAsync(VmRecord record, CancellationToken cancellationToken);

    /// <summary>
    /// Stops the VMs a previous daemon left behind that nobody claims (e.g. its idle pool VMs after a kill -9): every
    /// VM of this backend's run root that this instance neither prepared nor recovered and whose run directory is
    /// not in <paramref name="keepRunDirectories"/>. Returns how many were stopped.
    /// </summary>
    Task<int> StopOrphansAsync(IReadOnlyCollection<string> keepRunDirectories, CancellationToken cancellationToken);
}

/// <summary>
/// Proves the guest's agent is up, given a fresh stream to it. Supplied by the caller so the toolstack stays free of
/// the agent protocol. It should return once the agent answered and throw (or be cancelled) otherwise.
/// </summary>
public delegate Task AgentProbe(Stream agent, CancellationToken cancellationToken);
