using System.Globalization;
using LightVM.Protos.Agent.V1;
using LightVM.Runtime.Store;
using ContainerState = LightVM.Runtime.Store.ContainerState;

namespace LightVM.Runtime.Pods;

public sealed partial class PodManager
{
    private const long MinCpuPeriod = 1_000;
    private const long MaxCpuPeriod = 1_000_000;
    private const long MinCpuQuota = 1_000;
    private const long MinCpuShares = 2;
    private const long MaxCpuShares = 262_144;

    /// <summary>
    /// Changes a container's cgroup limits inside its VM, as containerd: the set fields of <paramref name="update"/>
    /// replace the current ones (0 keeps a field). A created container gets them when it starts; a running one at
    /// once; an exited one is FailedPrecondition. The VM's own size does not change.
    /// </summary>
    public async Task UpdateContainerResourcesAsync(string idOrPrefix, ContainerResources update, CancellationToken cancellationToken)
    {
        ValidateResources(update);
        var container = ResolveContainer(idOrPrefix);
        var id = container.Metadata.Id;
        var merged = MergeResources(container.Status.Resources, update);
        switch (container.Status.State)
        {
            case ContainerState.Created:
                break;
            case ContainerState.Running when _live.TryGetValue(container.Metadata.PodId, out var live):
                await live.Agent.UpdateResourcesAsync(new UpdateResourcesRequest { Id = id, Resources = ToAgentResources(merged) ?? new Resources() },
                    cancellationToken).ConfigureAwait(false);
                break;
            case ContainerState.Running:
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"pod sandbox {container.Metadata.PodId} of container {id} is not ready");
            default:
                throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"container {id} has exited: its resources cannot be updated");
        }

        _containers.Update(id, s => s with { Resources = merged });
        RuntimeLog.ContainerResourcesUpdated(_logger, id, Describe(merged));
    }

    /// <summary>Refuses values the kernel would refuse, naming the field, before anything is done.</summary>
    internal static void ValidateResources(ContainerResources? resources)
    {
        if (resources is null)
        {
            return;
        }

        if (resources.CpuPeriod != 0 && resources.CpuPeriod is < MinCpuPeriod or > MaxCpuPeriod)
        {
            throw Invalid($"cpu_period {resources.CpuPeriod} is outside {MinCpuPeriod}-{MaxCpuPeriod} microseconds");
        }

        if (resources.CpuQuota is > 0 and < MinCpuQuota || resources.CpuQuota < -1)
        {
            throw Invalid($"cpu_quota {resources.CpuQuota} must be -1 (no limit), 0 (unset) or at least {MinCpuQuota} microseconds");
        }

        if (resources.CpuShares < 0)
        {
            throw Invalid($"cpu_shares {resources.CpuShares} is negative");
        }

        if (resources.MemoryLimitBytes < 0)
        {
            throw Invalid($"memory_limit_in_bytes {resources.MemoryLimitBytes} is negative");
        }

        if (resources.MemorySwapLimitBytes < -1 ||
            (resources.MemorySwapLimitBytes > 0 && resources.MemoryLimitBytes > 0 && resources.MemorySwapLimitBytes < resources.MemoryLimitBytes))
        {
            throw Invalid($"memory_swap_limit_in_bytes {resources.MemorySwapLimitBytes} must be -1, 0 or at least memory_limit_in_bytes ({resources.MemoryLimitBytes})");
        }

        foreach (var (file, _) in resources.Unified)
        {
            if (file.Contains('/', StringComparison.Ordinal) || file.StartsWith("cgroup.", StringComparison.Ordinal) || !file.Contains('.', StringComparison.Ordinal))
            {
                throw Invalid($"unified key \"{file}\" is not a cgroup v2 interface file a container may set");
            }
        }

        static RuntimeException Invalid(string message) => new(RuntimeErrorKind.InvalidArgument, "resources: " + message);
    }

    /// <summary>The fields set in <paramref name="update"/> replace those of <paramref name="current"/>; unified keys merge.</summary>
    internal static ContainerResources MergeResources(ContainerResources? current, ContainerResources update)
    {
        var baseline = current ?? ContainerResources.None;
        var unified = new Dictionary<string, string>(baseline.Unified, StringComparer.Ordinal);
        foreach (var (file, value) in update.Unified)
        {
            unified[file] = value;
        }

        return new ContainerResources(
            update.CpuPeriod != 0 ? update.CpuPeriod : baseline.CpuPeriod,
            update.CpuQuota != 0 ? update.CpuQuota : baseline.CpuQuota,
            update.CpuShares != 0 ? update.CpuShares : baseline.CpuShares,
            update.MemoryLimitBytes != 0 ? update.MemoryLimitBytes : baseline.MemoryLimitBytes,
            update.MemorySwapLimitBytes != 0 ? update.MemorySwapLimitBytes : baseline.MemorySwapLimitBytes,
            unified);
    }

    /// <summary>
    /// CRI (cgroup v1 style) values to the guest's cgroup v2 files, with the conversions runc uses: shares to
    /// cpu.weight, memory+swap to memory.swap.max. Null when nothing is set.
    /// </summary>
    internal static Resources? ToAgentResources(ContainerResources? resources)
    {
        if (resources is null || resources.IsEmpty)
        {
            return null;
        }

        var result = new Resources();
        if (resources.CpuQuota != 0)
        {
            result.CpuQuotaUs = resources.CpuQuota;
        }

        if (resources.CpuPeriod != 0)
        {
            result.CpuPeriodUs = (ulong)resources.CpuPeriod;
        }

        if (resources.CpuShares != 0)
        {
            var shares = Math.Clamp(resources.CpuShares, MinCpuShares, MaxCpuShares);
            result.CpuWeight = (ulong)(1 + ((shares - 2) * 9999 / 262_142));
        }

        if (resources.MemoryLimitBytes != 0)
        {
            result.MemoryLimitBytes = (ulong)resources.MemoryLimitBytes;
        }

        if (resources.MemorySwapLimitBytes != 0)
        {
            // cgroup v1's limit covers memory plus swap; v2's memory.swap.max covers swap alone.
            result.Unified["memory.swap.max"] = resources.MemorySwapLimitBytes == -1 || resources.MemoryLimitBytes == 0
                ? "max"
                : (resources.MemorySwapLimitBytes - resources.MemoryLimitBytes).ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (file, value) in resources.Unified)
        {
            result.Unified[file] = value;
        }

        return result;
    }

    private static string Describe(ContainerResources r) =>
        string.Create(CultureInfo.InvariantCulture,
            $"cpu {r.CpuQuota}/{r.CpuPeriod} shares {r.CpuShares}, memory {r.MemoryLimitBytes} swap {r.MemorySwapLimitBytes}, {r.Unified.Count} unified");
}
