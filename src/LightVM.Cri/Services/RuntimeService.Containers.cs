using Grpc.Core;
using LightVM.Runtime.Pods;
using LightVM.Runtime.Store;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

internal sealed partial class RuntimeService
{
    public override async Task<V1.CreateContainerResponse> CreateContainer(V1.CreateContainerRequest request, ServerCallContext context)
    {
        var config = request.Config ?? throw new ArgumentException("CreateContainer: config is required");
        var metadata = config.Metadata ?? throw new ArgumentException("CreateContainer: config.metadata is required");
        if (string.IsNullOrEmpty(config.Image?.Image))
        {
            throw new ArgumentException("CreateContainer: config.image.image is required");
        }

        var mounts = config.Mounts.Select(m => string.IsNullOrEmpty(m.HostPath)
            ? throw new ArgumentException($"CreateContainer: mount {m.ContainerPath}: host_path is required (image mounts are not supported)")
            : new MountSpec(m.HostPath, m.ContainerPath, m.Readonly)).ToList();
        var security = config.Linux?.SecurityContext;
        var spec = new ContainerSpec(
            metadata.Name, metadata.Attempt, config.Image.Image, config.Command.ToList(), config.Args.ToList(), config.WorkingDir,
            config.Envs.Select(e => KeyValuePair.Create(e.Key, e.Value.ToStringUtf8())).ToList(), mounts, config.LogPath,
            config.Labels.ToDictionary(), config.Annotations.ToDictionary(),
            security?.RunAsUser?.Value, security?.RunAsGroup?.Value, FromCri(config.Linux?.Resources),
            security?.RunAsUsername, security?.SupplementalGroups.ToList(), security?.ReadonlyRootfs ?? false);
        var id = await _pods.CreateContainerAsync(request.PodSandboxId, spec, context.CancellationToken).ConfigureAwait(false);
        return new V1.CreateContainerResponse { ContainerId = id };
    }

    public override async Task<V1.StartContainerResponse> StartContainer(V1.StartContainerRequest request, ServerCallContext context)
    {
        await _pods.StartContainerAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false);
        return new V1.StartContainerResponse();
    }

    public override async Task<V1.StopContainerResponse> StopContainer(V1.StopContainerRequest request, ServerCallContext context)
    {
        await _pods.StopContainerAsync(request.ContainerId, TimeSpan.FromSeconds(Math.Max(0, request.Timeout)), context.CancellationToken).ConfigureAwait(false);
        return new V1.StopContainerResponse();
    }

    public override async Task<V1.RemoveContainerResponse> RemoveContainer(V1.RemoveContainerRequest request, ServerCallContext context)
    {
        await _pods.RemoveContainerAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false);
        return new V1.RemoveContainerResponse();
    }

    public override async Task<V1.UpdateContainerResourcesResponse> UpdateContainerResources(V1.UpdateContainerResourcesRequest request, ServerCallContext context)
    {
        if (request.Linux is null)
        {
            throw new ArgumentException(request.Windows is null
                ? "UpdateContainerResources: linux resources are required"
                : "UpdateContainerResources: windows resources are not supported, only linux");
        }

        await _pods.UpdateContainerResourcesAsync(request.ContainerId, FromCri(request.Linux)!, context.CancellationToken).ConfigureAwait(false);
        return new V1.UpdateContainerResourcesResponse();
    }

    public override Task<V1.ReopenContainerLogResponse> ReopenContainerLog(V1.ReopenContainerLogRequest request, ServerCallContext context)
    {
        _pods.ReopenContainerLog(request.ContainerId);
        return Task.FromResult(new V1.ReopenContainerLogResponse());
    }

    public override Task<V1.ContainerStatusResponse> ContainerStatus(V1.ContainerStatusRequest request, ServerCallContext context)
    {
        var c = _pods.GetContainer(request.ContainerId);
        var status = new V1.ContainerStatus
        {
            Id = c.Metadata.Id,
            Metadata = new V1.ContainerMetadata { Name = c.Metadata.Name, Attempt = c.Metadata.Attempt },
            State = ToCri(c.Status.State),
            CreatedAt = UnixNanos(c.Metadata.CreatedAt),
            StartedAt = UnixNanos(c.Status.StartedAt),
            FinishedAt = UnixNanos(c.Status.FinishedAt),
            ExitCode = c.Status.ExitCode,
            Image = new V1.ImageSpec { Image = c.Metadata.ImageRef },
            ImageRef = c.Metadata.ImageId,
            ImageId = c.Metadata.ImageId,
            Reason = c.Status.Reason,
            Message = c.Status.Message,
            Labels = { c.Metadata.Labels.ToDictionary() },
            Annotations = { c.Metadata.Annotations.ToDictionary() },
            LogPath = c.Metadata.LogPath,
        };
        status.User = new V1.ContainerUser
        {
            Linux = new V1.LinuxContainerUser
            {
                Uid = c.Metadata.Uid,
                Gid = c.Metadata.Gid,
                SupplementalGroups = { (c.Metadata.AdditionalGids ?? []).Select(g => (long)g) },
            },
        };
        if (c.Status.Resources is { } resources)
        {
            status.Resources = new V1.ContainerResources { Linux = ToCri(resources) };
        }

        status.Mounts.AddRange(c.Metadata.Mounts.Select(m => new V1.Mount { HostPath = m.HostPath, ContainerPath = m.ContainerPath, Readonly = m.ReadOnly }));
        return Task.FromResult(new V1.ContainerStatusResponse { Status = status });
    }

    public override Task<V1.ListContainersResponse> ListContainers(V1.ListContainersRequest request, ServerCallContext context)
    {
        var filter = request.Filter is { } f
            ? new ContainerFilter(f.Id, f.PodSandboxId, f.State is null ? null : FromCri(f.State.State),
                f.LabelSelector.Count > 0 ? f.LabelSelector.ToDictionary() : null)
            : null;
        var response = new V1.ListContainersResponse();
        foreach (var c in _pods.ListContainers(filter))
        {
            response.Containers.Add(new V1.Container
            {
                Id = c.Metadata.Id,
                PodSandboxId = c.Metadata.PodId,
                Metadata = new V1.ContainerMetadata { Name = c.Metadata.Name, Attempt = c.Metadata.Attempt },
                Image = new V1.ImageSpec { Image = c.Metadata.ImageRef },
                ImageRef = c.Metadata.ImageId,
                ImageId = c.Metadata.ImageId,
                State = ToCri(c.Status.State),
                CreatedAt = UnixNanos(c.Metadata.CreatedAt),
                Labels = { c.Metadata.Labels.ToDictionary() },
                Annotations = { c.Metadata.Annotations.ToDictionary() },
            });
        }

        return Task.FromResult(response);
    }

    public override async Task<V1.ExecSyncResponse> ExecSync(V1.ExecSyncRequest request, ServerCallContext context)
    {
        var result = await _pods.ExecSyncAsync(request.ContainerId, request.Cmd.ToList(), TimeSpan.FromSeconds(Math.Max(0, request.Timeout)),
            context.CancellationToken).ConfigureAwait(false);
        return new V1.ExecSyncResponse
        {
            ExitCode = result.ExitCode,
            Stdout = Google.Protobuf.ByteString.CopyFrom(result.Stdout),
            Stderr = Google.Protobuf.ByteString.CopyFrom(result.Stderr),
        };
    }

    /// <summary>
    /// The limits a VM guest can apply. cpuset_cpus/mems (host CPU and node numbers mean nothing inside the VM),
    /// hugepage limits (no hugetlb in the guest) and oom_score_adj are not carried.
    /// </summary>
    private static ContainerResources? FromCri(V1.LinuxContainerResources? r) => r is null
        ? null
        : new ContainerResources(r.CpuPeriod, r.CpuQuota, r.CpuShares, r.MemoryLimitInBytes, r.MemorySwapLimitInBytes, r.Unified.ToDictionary());

    private static V1.LinuxContainerResources ToCri(ContainerResources r) => new()
    {
        CpuPeriod = r.CpuPeriod,
        CpuQuota = r.CpuQuota,
        CpuShares = r.CpuShares,
        MemoryLimitInBytes = r.MemoryLimitBytes,
        MemorySwapLimitInBytes = r.MemorySwapLimitBytes,
        Unified = { r.Unified.ToDictionary() },
    };

    private static V1.ContainerState ToCri(ContainerState state) => state switch
    {
        ContainerState.Created => V1.ContainerState.ContainerCreated,
        ContainerState.Running => V1.ContainerState.ContainerRunning,
        _ => V1.ContainerState.ContainerExited,
    };

    private static ContainerState? FromCri(V1.ContainerState state) => state switch
    {
        V1.ContainerState.ContainerCreated => ContainerState.Created,
        V1.ContainerState.ContainerRunning => ContainerState.Running,
        V1.ContainerState.ContainerExited => ContainerState.Exited,
        _ => null,
    };
}
