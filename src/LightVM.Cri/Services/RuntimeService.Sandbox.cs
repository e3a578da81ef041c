using System.Text.Json;
using Grpc.Core;
using LightVM.Runtime.Pods;
using LightVM.Runtime.Store;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

internal sealed partial class RuntimeService
{
    public override async Task<V1.RunPodSandboxResponse> RunPodSandbox(V1.RunPodSandboxRequest request, ServerCallContext context)
    {
        var config = request.Config ?? throw new ArgumentException("RunPodSandbox: config is required");
        var metadata = config.Metadata ?? throw new ArgumentException("RunPodSandbox: config.metadata is required");
        // The VM is sized for the sum of the containers' limits plus the RuntimeClass overhead kubelet passes along;
        // without a limit it gets the configured default shape.
        var resources = config.Linux?.Resources;
        var overhead = config.Linux?.Overhead;
        double? cpus = resources is { CpuQuota: > 0, CpuPeriod: > 0 }
            ? ((double)resources.CpuQuota / resources.CpuPeriod) + (overhead is { CpuQuota: > 0, CpuPeriod: > 0 } ? (double)overhead.CpuQuota / overhead.CpuPeriod : 0)
            : null;
        long? memory = resources is { MemoryLimitInBytes: > 0 } ? resources.MemoryLimitInBytes + Math.Max(0, overhead?.MemoryLimitInBytes ?? 0) : null;
        var spec = new PodSpec(metadata.Name, metadata.Namespace, metadata.Uid, metadata.Attempt,
            config.Labels.ToDictionary(), config.Annotations.ToDictionary(), config.LogDirectory, config.Hostname, cpus, memory,
            config.DnsConfig is { } dns ? new PodDns(dns.Servers.ToList(), dns.Searches.ToList(), dns.Options.ToList()) : null);
        var id = await _pods.RunPodSandboxAsync(spec, context.CancellationToken).ConfigureAwait(false);
        return new V1.RunPodSandboxResponse { PodSandboxId = id };
    }

    public override async Task<V1.StopPodSandboxResponse> StopPodSandbox(V1.StopPodSandboxRequest request, ServerCallContext context)
    {
        await _pods.StopPodSandboxAsync(request.PodSandboxId, context.CancellationToken).ConfigureAwait(false);
        return new V1.StopPodSandboxResponse();
    }

    public override async Task<V1.RemovePodSandboxResponse> RemovePodSandbox(V1.RemovePodSandboxRequest request, ServerCallContext context)
    {
        await _pods.RemovePodSandboxAsync(request.PodSandboxId, context.CancellationToken).ConfigureAwait(false);
        return new V1.RemovePodSandboxResponse();
    }

    public override Task<V1.PodSandboxStatusResponse> PodSandboxStatus(V1.PodSandboxStatusRequest request, ServerCallContext context)
    {
        var (pod, vm) = _pods.GetPod(request.PodSandboxId);
        var response = new V1.PodSandboxStatusResponse
        {
            Status = new V1.PodSandboxStatus
            {
                Id = pod.Metadata.Id,
                Metadata = ToCri(pod.Metadata),
                State = ToCri(pod.Status.State),
                CreatedAt = UnixNanos(pod.Metadata.CreatedAt),
                Network = new V1.PodSandboxNetworkStatus(),
                Labels = { pod.Metadata.Labels.ToDictionary() },
                Annotations = { pod.Metadata.Annotations.ToDictionary() },
            },
        };
        if (request.Verbose)
        {
            response.Info.Add("info", JsonSerializer.Serialize(new
            {
                vm = vm is null ? null : new
                {
                    id = vm.Id,
                    backend = vm.Backend,
                    vcpus = vm.Shape.Vcpus,
                    memoryMib = vm.Shape.MemoryMib,
                    vmmPid = vm.VmmPid,
                    accel = vm.Accel,
                    preparedAt = vm.PreparedAt,
                    bootMs = vm.BootDuration.TotalMilliseconds,
                    runDirectory = vm.RunDirectory,
                },
                source = pod.Status.FromPool ? "pooled" : "cold",
                claimMs = pod.Status.ClaimDuration.TotalMilliseconds,
                podDirectory = pod.Metadata.PodDirectory,
                notReadyReason = pod.Status.NotReadyReason,
            }));
        }

        return Task.FromResult(response);
    }

    public override Task<V1.ListPodSandboxResponse> ListPodSandbox(V1.ListPodSandboxRequest request, ServerCallContext context)
    {
        var filter = request.Filter is { } f
            ? new PodFilter(f.Id, f.State is null ? null : FromCri(f.State.State), f.LabelSelector.Count > 0 ? f.LabelSelector.ToDictionary() : null)
            : null;
        var response = new V1.ListPodSandboxResponse();
        foreach (var pod in _pods.ListPods(filter))
        {
            response.Items.Add(new V1.PodSandbox
            {
                Id = pod.Metadata.Id,
                Metadata = ToCri(pod.Metadata),
                State = ToCri(pod.Status.State),
                CreatedAt = UnixNanos(pod.Metadata.CreatedAt),
                Labels = { pod.Metadata.Labels.ToDictionary() },
                Annotations = { pod.Metadata.Annotations.ToDictionary() },
            });
        }

        return Task.FromResult(response);
    }

    private static V1.PodSandboxMetadata ToCri(PodMetadata m) =>
        new() { Name = m.Name, Namespace = m.Namespace, Uid = m.Uid, Attempt = m.Attempt };

    private static V1.PodSandboxState ToCri(PodState state) =>
        state == PodState.Ready ? V1.PodSandboxState.SandboxReady : V1.PodSandboxState.SandboxNotready;

    private static PodState FromCri(V1.PodSandboxState state) =>
        state == V1.PodSandboxState.SandboxReady ? PodState.Ready : PodState.NotReady;

    private static long UnixNanos(DateTimeOffset? at) =>
        at is { } t ? (t - DateTimeOffset.UnixEpoch).Ticks * 100 : 0;
}
