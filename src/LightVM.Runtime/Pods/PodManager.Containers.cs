using LightVM.Agent.Protocol;
using LightVM.Images;
using LightVM.Protos.Agent.V1;
using LightVM.Runtime.Internal;
using LightVM.Runtime.Store;
using LightVM.Toolstack;
using ContainerState = LightVM.Runtime.Store.ContainerState;

namespace LightVM.Runtime.Pods;

public sealed partial class PodManager
{
    private const uint SigKill = 9;

    /// <summary>
    /// Builds the container's rootfs (an overlay of the image layers under a per-container upper, mounted inside the
    /// pod's share so the guest sees it) and binds its mounts into the share. The agent sees it at StartContainer.
    /// </summary>
    public Task<string> CreateContainerAsync(string podIdOrPrefix, ContainerSpec spec, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pod = ResolvePod(podIdOrPrefix);
        var podId = pod.Metadata.Id;
        if (pod.Status.State != PodState.Ready || !_live.TryGetValue(podId, out var live))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"pod sandbox {podId} is not ready");
        }

        if (string.IsNullOrEmpty(spec.Name))
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "container metadata.name is required");
        }

        ValidateResources(spec.Resources);
        var image = _images.Find(spec.Image)
            ?? throw new RuntimeException(RuntimeErrorKind.NotFound, $"image \"{spec.Image}\" not found: pull it first");
        foreach (var mount in spec.Mounts)
        {
            if (!Path.IsPathFullyQualified(mount.HostPath) || (!Directory.Exists(mount.HostPath) && !File.Exists(mount.HostPath)))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"mount host_path \"{mount.HostPath}\" does not exist");
            }

            if (!mount.ContainerPath.StartsWith('/'))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"mount container_path \"{mount.ContainerPath}\" is not absolute");
            }
        }

        var args = BuildArgs(spec, image.Config);
        var stopSignal = StopSignals.Parse(image.Config.StopSignal);
        var id = NewId();
        var nameKey = ContainerNameKey(podId, spec.Name, spec.Attempt);
        if (!_names.TryAdd(nameKey, id))
        {
            throw new RuntimeException(RuntimeErrorKind.AlreadyExists,
                $"container name \"{spec.Name}\" (attempt {spec.Attempt}) is already used in pod {podId} by container {_names.GetValueOrDefault(nameKey)}");
        }

        var relative = Path.Combine("containers", id);
        var hostDir = Path.Combine(pod.Metadata.PodDirectory, relative);
        var metadata = new ContainerMetadata(
            id, podId, spec.Name, spec.Attempt, spec.Image, image.Id, spec.Labels, spec.Annotations,
            string.IsNullOrEmpty(pod.Metadata.LogDirectory) || string.IsNullOrEmpty(spec.LogPath) ? string.Empty : Path.Combine(pod.Metadata.LogDirectory, spec.LogPath),
            args, MergeEnv(image.Config.Env, spec.Env),
            !string.IsNullOrEmpty(spec.WorkingDir) ? spec.WorkingDir : image.Config.WorkingDir is { Length: > 0 } wd ? wd : "/",
            0, 0, spec.Mounts, relative, DateTimeOffset.UtcNow, [], spec.ReadOnlyRootfs, stopSignal);
        try
        {
            foreach (var sub in new[] { "upper", "work", "rootfs", "mounts" })
            {
                Directory.CreateDirectory(Path.Combine(hostDir, sub));
            }

            var inShare = Path.Combine(live.ShareHostPath, relative);
            var rootfs = Path.Combine(inShare, "rootfs");
            HostMounts.Overlay(_images.GetRootfsLayers(image), Path.Combine(hostDir, "upper"), Path.Combine(hostDir, "work"), rootfs);
            var identity = ContainerUser.Resolve(spec.RunAsUser, spec.RunAsUsername, spec.RunAsGroup, image.Config.User, spec.SupplementalGroups ?? [],
                path => RootFiles.ReadText(rootfs, path));
            metadata = metadata with { Uid = identity.Uid, Gid = identity.Gid, AdditionalGids = identity.AdditionalGids };
            for (var i = 0; i < spec.Mounts.Count; i++)
            {
                var target = Path.Combine(inShare, "mounts", i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (Directory.Exists(spec.Mounts[i].HostPath))
                {
                    Directory.CreateDirectory(target);
                }
                else
                {
                    File.WriteAllBytes(target, []);
                }

                HostMounts.Bind(spec.Mounts[i].HostPath, target, spec.Mounts[i].ReadOnly);
            }

            _images.AcquireLease(id, image);
            _containers.Insert(new ContainerRecord(metadata, new ContainerStatus(ContainerState.Created, null, null, 0, string.Empty, string.Empty,
                spec.Resources is { IsEmpty: false } ? spec.Resources : null)));
            return Task.FromResult(id);
        }
        catch
        {
            UnmountContainer(live.ShareHostPath, metadata);
            DeleteTree(hostDir);
            _names.TryRemove(nameKey, out _);
            throw;
        }
    }

    /// <summary>Creates and starts the container in the guest, then pumps its output into the CRI log file.</summary>
    public async Task StartContainerAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        using var foreground = _foreground.Begin();
        var container = ResolveContainer(idOrPrefix);
        var id = container.Metadata.Id;
        if (container.Status.State != ContainerState.Created)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"container {id} is {container.Status.State}, not Created");
        }

        if (!_live.TryGetValue(container.Metadata.PodId, out var live))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"pod sandbox {container.Metadata.PodId} of container {id} is not ready");
        }

        var guestDir = $"{GuestShareRoot}/{ShareName}/{container.Metadata.Directory}";
        var request = new CreateContainerRequest
        {
            Id = id,
            Rootfs = $"{guestDir}/rootfs",
            Cwd = container.Metadata.WorkingDir,
            Uid = container.Metadata.Uid,
            Gid = container.Metadata.Gid,
            Hostname = _pods.Get(container.Metadata.PodId)?.Metadata.Hostname ?? string.Empty,
            Resources = ToAgentResources(container.Status.Resources),
            ReadonlyRootfs = container.Metadata.ReadOnlyRootfs,
        };
        request.AdditionalGids.AddRange(container.Metadata.AdditionalGids ?? []);
        request.Args.AddRange(container.Metadata.Args);
        request.Env.AddRange(container.Metadata.Env);
        for (var i = 0; i < container.Metadata.Mounts.Count; i++)
        {
            var m = container.Metadata.Mounts[i];
            request.Mounts.Add(new Mount
            {
                Source = $"{guestDir}/mounts/{i.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
                Target = m.ContainerPath,
                Readonly = m.ReadOnly,
                Bind = true,
            });
        }

        var podDirectory = _pods.Get(container.Metadata.PodId)?.Metadata.PodDirectory;
        foreach (var (containerPath, fileName) in PodFiles.Mounts)
        {
            // The pod's shared files, unless the container mounts something of its own there (kubelet's /etc/hosts).
            if (podDirectory is not null && File.Exists(Path.Combine(podDirectory, fileName)) && request.Mounts.All(m => m.Target != containerPath))
            {
                request.Mounts.Add(new Mount
                {
                    Source = $"{GuestShareRoot}/{ShareName}/{fileName}", Target = containerPath, Readonly = container.Metadata.ReadOnlyRootfs, Bind = true,
                });
            }
        }

        await live.Agent.CreateContainerAsync(request, cancellationToken).ConfigureAwait(false);
        StartContainerResponse started;
        try
        {
            started = await live.Agent.StartContainerAsync(new StartContainerRequest { Id = id }, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            await Quietly(live.Agent.RemoveContainerAsync(new RemoveContainerRequest { Id = id, Force = true }, CancellationToken.None)).ConfigureAwait(false);
            _containers.Update(id, s => s with
            {
                State = ContainerState.Exited, FinishedAt = DateTimeOffset.UtcNow, ExitCode = 128, Reason = "StartError", Message = e.Message,
            });
            throw;
        }

        var startedAt = started.StartedAtUnixNano > 0 ? DateTimeOffset.UnixEpoch.AddTicks(started.StartedAtUnixNano / 100) : DateTimeOffset.UtcNow;
        _containers.Update(id, s => s with { State = ContainerState.Running, StartedAt = startedAt });
        WatchContainer(live, container);
    }

    /// <summary>SIGTERM, then SIGKILL once <paramref name="timeout"/> has passed. Idempotent.</summary>
    public async Task StopContainerAsync(string idOrPrefix, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var container = ResolveContainer(idOrPrefix);
        var id = container.Metadata.Id;
        if (container.Status.State == ContainerState.Created)
        {
            _containers.Update(id, s => s with { State = ContainerState.Exited, FinishedAt = DateTimeOffset.UtcNow, Reason = "Completed" });
            return;
        }

        if (container.Status.State != ContainerState.Running ||
            !_live.TryGetValue(container.Metadata.PodId, out var live) || !live.Watches.TryGetValue(id, out var watch))
        {
            return;
        }

        if (timeout > TimeSpan.Zero)
        {
            await Quietly(live.Agent.SignalContainerAsync(new SignalContainerRequest { Id = id, Signal = container.Metadata.StopSignal }, cancellationToken)).ConfigureAwait(false);
            try
            {
                await watch.Exited.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                // Fall through to SIGKILL, as the CRI asks.
            }
        }

        await Quietly(live.Agent.SignalContainerAsync(new SignalContainerRequest { Id = id, Signal = SigKill }, cancellationToken)).ConfigureAwait(false);
        await watch.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Kills the container if it runs, then removes it from the guest, the host and the store. Idempotent.</summary>
    public async Task RemoveContainerAsync(string idOrPrefix, CancellationToken cancellationToken)
    {
        var container = TryResolveContainer(idOrPrefix);
        if (container is null)
        {
            return;
        }

        var id = container.Metadata.Id;
        await StopContainerAsync(id, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        var pod = _pods.Get(container.Metadata.PodId);
        if (_live.TryGetValue(container.Metadata.PodId, out var live))
        {
            if (live.Watches.TryRemove(id, out var watch))
            {
                await Quietly(watch.LogPump.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken)).ConfigureAwait(false);
                await watch.Stop.CancelAsync().ConfigureAwait(false);
                watch.Stop.Dispose();
            }

            await Quietly(live.Agent.RemoveContainerAsync(new RemoveContainerRequest { Id = id, Force = true }, cancellationToken)).ConfigureAwait(false);
            UnmountContainer(live.ShareHostPath, container.Metadata);
        }

        if (pod is not null)
        {
            DeleteTree(Path.Combine(pod.Metadata.PodDirectory, container.Metadata.Directory));
        }

        await _images.ReleaseLeaseAsync(id, cancellationToken).ConfigureAwait(false);
        _containers.Delete(id);
        _names.TryRemove(ContainerNameKey(container.Metadata.PodId, container.Metadata.Name, container.Metadata.Attempt), out _);
    }

    /// <summary>
    /// Closes the container's log file and opens it again at its path (kubelet renamed it for rotation), as
    /// containerd: unknown container NotFound, one that is not running FailedPrecondition.
    /// </summary>
    public void ReopenContainerLog(string idOrPrefix)
    {
        var container = ResolveContainer(idOrPrefix);
        var id = container.Metadata.Id;
        if (container.Status.State != ContainerState.Running ||
            !_live.TryGetValue(container.Metadata.PodId, out var live) || !live.Watches.TryGetValue(id, out var watch))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"container {id} is not running: its log cannot be reopened");
        }

        try
        {
            watch.Log.Reopen();
        }
        catch (ObjectDisposedException)
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"container {id}: its output has ended, the log cannot be reopened");
        }
        catch (IOException e)
        {
            throw new RuntimeException(RuntimeErrorKind.Internal, $"container {id}: reopening log {container.Metadata.LogPath} failed: {e.Message}");
        }
    }

    public ContainerRecord GetContainer(string idOrPrefix) => ResolveContainer(idOrPrefix);

    public IReadOnlyList<ContainerRecord> ListContainers(ContainerFilter? filter) =>
        _containers.List().Where(c =>
            filter is null ||
            ((string.IsNullOrEmpty(filter.Id) || c.Metadata.Id.StartsWith(filter.Id, StringComparison.Ordinal)) &&
             (string.IsNullOrEmpty(filter.PodId) || c.Metadata.PodId.StartsWith(filter.PodId, StringComparison.Ordinal)) &&
             (filter.State is null || filter.State == c.Status.State) &&
             LabelsMatch(c.Metadata.Labels, filter.Labels))).ToList();

    private async Task WaitExitAsync(LivePod live, string id, CancellationToken cancellationToken)
    {
        try
        {
            var status = (await live.Agent.WaitContainerAsync(new WaitContainerRequest { Id = id }, cancellationToken).ConfigureAwait(false)).Status;
            var code = status.Signal != 0 ? 128 + (int)status.Signal : status.ExitCode;
            var finished = status.FinishedAtUnixNano > 0 ? DateTimeOffset.UnixEpoch.AddTicks(status.FinishedAtUnixNano / 100) : DateTimeOffset.UtcNow;
            _containers.Update(id, s => s with
            {
                State = ContainerState.Exited,
                FinishedAt = finished,
                ExitCode = code,
                Reason = code == 0 ? "Completed" : "Error",
                Message = status.Reason,
            });
            RuntimeLog.ContainerExited(_logger, id, code);
        }
        catch (Exception e) when (e is AgentException or OperationCanceledException or ObjectDisposedException)
        {
            RuntimeLog.WaitFailed(_logger, id, e.Message);
        }
    }

    /// <summary>For StopPodSandbox: SIGKILL and wait briefly; the VM goes next anyway.</summary>
    private async Task KillForPodStopAsync(LivePod live, string id, CancellationToken cancellationToken)
    {
        await Quietly(live.Agent.SignalContainerAsync(new SignalContainerRequest { Id = id, Signal = SigKill }, cancellationToken)).ConfigureAwait(false);
        if (live.Watches.TryGetValue(id, out var watch))
        {
            await Quietly(watch.Exited.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken)).ConfigureAwait(false);
        }
    }

    private static void UnmountContainer(string shareHostPath, ContainerMetadata container)
    {
        var inShare = Path.Combine(shareHostPath, container.Directory);
        for (var i = container.Mounts.Count - 1; i >= 0; i--)
        {
            HostMounts.Unmount(Path.Combine(inShare, "mounts", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        HostMounts.Unmount(Path.Combine(inShare, "rootfs"));
    }

    /// <summary>containerd's rules: command replaces the entrypoint (and drops the image cmd); args replace the cmd.</summary>
    internal static IReadOnlyList<string> BuildArgs(ContainerSpec spec, ImageConfig image)
    {
        List<string> args = spec.Command.Count > 0
            ? [.. spec.Command, .. spec.Args]
            : [.. image.Entrypoint, .. spec.Args.Count > 0 ? spec.Args : image.Cmd];
        return args.Count > 0
            ? args
            : throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"container \"{spec.Name}\": no command given and the image has no entrypoint or cmd");
    }

    /// <summary>Image env first; the config's values replace the image's for the same name.</summary>
    internal static IReadOnlyList<string> MergeEnv(IReadOnlyList<string> image, IReadOnlyList<KeyValuePair<string, string>> config)
    {
        var result = new List<string>(image);
        foreach (var (key, value) in config)
        {
            result.RemoveAll(e => e.StartsWith(key + "=", StringComparison.Ordinal));
            result.Add($"{key}={value}");
        }

        return result;
    }

    private ContainerRecord ResolveContainer(string idOrPrefix) =>
        TryResolveContainer(idOrPrefix) ?? throw new RuntimeException(RuntimeErrorKind.NotFound, $"container \"{idOrPrefix}\" not found");

    private ContainerRecord? TryResolveContainer(string idOrPrefix) =>
        Resolve(idOrPrefix, "container", _containers.Get, () => _containers.List().Select(c => c.Metadata.Id));
}
