using System.Text.RegularExpressions;
using LightVM.Agent.Containers;
using LightVM.Agent.Native;
using LightVM.Agent.Processes;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Service;

internal sealed partial class AgentService
{
    private const int SigKill = 9;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex ContainerIdPattern();

    private CreateContainerResponse CreateContainer(CreateContainerRequest request)
    {
        Validate(request);
        var capacity = request.OutputBufferBytes == 0 ? _options.OutputBufferBytes : (int)request.OutputBufferBytes;
        var cgroup = _cgroups.Available ? _cgroups.PathFor(request.Id) : null;
        var container = new Container(request.Clone(), cgroup, new OutputLog(request.Id, capacity));
        _store.Add(container);
        try
        {
            if (cgroup is not null)
            {
                _cgroups.Create(request.Id, request.Resources);
            }
        }
        catch
        {
            _store.Remove(container);
            throw;
        }

        AgentLog.ContainerCreated(_logger, request.Id, request.Rootfs, cgroup ?? "none");
        return new CreateContainerResponse();
    }

    private void Validate(CreateContainerRequest request)
    {
        if (!ContainerIdPattern().IsMatch(request.Id))
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument, $"container id \"{request.Id}\" must be 1-128 characters of letters, digits, '_', '.', '-'");
        }

        if (!Path.IsPathRooted(request.Rootfs))
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"rootfs \"{request.Rootfs}\" of container {request.Id} must be an absolute path");
        }

        if (!Directory.Exists(request.Rootfs))
        {
            throw new AgentException(AgentErrorKind.NotFound, $"rootfs \"{request.Rootfs}\" of container {request.Id} does not exist");
        }

        if (request.Args.Count == 0 || request.Args[0].Length == 0)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"container {request.Id} has no command (args is empty)");
        }

        foreach (var mount in request.Mounts)
        {
            if (!Path.IsPathRooted(mount.Target))
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"mount target \"{mount.Target}\" of container {request.Id} must be absolute");
            }

            if (mount.Bind ? !Path.IsPathRooted(mount.Source) : mount.Fstype.Length == 0)
            {
                throw new AgentException(
                    AgentErrorKind.InvalidArgument,
                    $"mount {mount.Source} -> {mount.Target} of container {request.Id} needs an absolute source (bind) or an fstype");
            }
        }

        if (request.OutputBufferBytes > _options.MaxOutputBufferBytes)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument, $"output buffer of {request.OutputBufferBytes} bytes exceeds the agent's maximum of {_options.MaxOutputBufferBytes}");
        }

        if (request.Resources is not null && !_cgroups.Available)
        {
            throw new AgentException(
                AgentErrorKind.FailedPrecondition, $"container {request.Id} asks for resource limits but the guest has no cgroup v2 at {_options.CgroupRoot}");
        }

        if (_store.Contains(request.Id))
        {
            throw new AgentException(AgentErrorKind.AlreadyExists, $"container {request.Id} already exists");
        }
    }

    private async Task<StartContainerResponse> StartContainerAsync(StartContainerRequest request)
    {
        var container = _store.Get(request.Id);
        container.BeginStart();
        var spec = container.Spec;
        LaunchedProcess process;
        try
        {
            var exec = ExecSpec.Create(spec.Rootfs, _options.NoPivot, spec.ReadonlyRootfs, spec.Hostname, _options.Guest ? "/dev/shm" : null)
                .Cgroup(container.Cgroup)
                .Identity(spec.Uid, spec.Gid, spec.AdditionalGids)
                .Command(spec.Args, spec.Env, spec.Cwd.Length > 0 ? spec.Cwd : "/");
            foreach (var mount in spec.Mounts)
            {
                exec.Mount(mount.Source, mount.Target, mount.Fstype, mount.Bind, mount.Readonly, mount.Options);
            }

            process = await _launcher.LaunchAsync(exec, $"container {spec.Id}").ConfigureAwait(false);
        }
        catch (AgentException e)
        {
            AgentLog.ContainerStartFailed(_logger, spec.Id, e.Message);
            container.MarkStartFailed(e.Message);
            throw;
        }

        var startedAt = UnixTime.NowNanos();
        container.MarkRunning(process.Pid, startedAt);
        AgentLog.ContainerStarted(_logger, spec.Id, process.Pid);
        var pumps = Task.WhenAll(
            OutputPump.RunAsync(process.Stdout, OutputStream.Stdout, container.Output),
            OutputPump.RunAsync(process.Stderr, OutputStream.Stderr, container.Output));
        _ = MonitorAsync(container, process, pumps, startedAt);
        return new StartContainerResponse { Pid = (uint)process.Pid, StartedAtUnixNano = startedAt };
    }

    private async Task MonitorAsync(Container container, LaunchedProcess process, Task pumps, long startedAt)
    {
        var wait = await process.Exited.ConfigureAwait(false);

        // A container ends with its main process; what it left behind goes with it.
        Libc.kill(-process.Pid, SigKill);
        if (container.Cgroup is not null)
        {
            Cgroups.Kill(container.Cgroup);
        }

        var status = wait.ToExitStatus(startedAt);
        container.MarkExited(status);
        AgentLog.ContainerExited(_logger, container.Id, status.ExitCode, status.Signal);
        await OutputPump.DrainAsync(
            pumps, () => container.Output.EndOffset, () => container.Output.IsFull, [process.Stdout, process.Stderr],
            _options.OutputDrainTimeout, _logger, $"container {container.Id}").ConfigureAwait(false);
        container.Output.End();
    }

    private SignalContainerResponse SignalContainer(SignalContainerRequest request)
    {
        if (request.Signal is 0 or > 64)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"signal {request.Signal} is not a valid signal number");
        }

        var pid = Running(request.Id, $"send signal {request.Signal}").RunningPid;
        if (Libc.kill(pid, (int)request.Signal) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw errno == Libc.ESrch
                ? new AgentException(AgentErrorKind.FailedPrecondition, $"container {request.Id} exited before the signal was sent")
                : new AgentException(AgentErrorKind.Internal, $"kill({pid}, {request.Signal}) failed: {Libc.Describe(errno)}");
        }

        return new SignalContainerResponse();
    }

    private async Task<WaitContainerResponse> WaitContainerAsync(WaitContainerRequest request, CancellationToken cancellationToken)
    {
        var container = _store.Get(request.Id);
        var status = await container.Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WaitContainerResponse { Status = status };
    }

    private async Task<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request)
    {
        var container = _store.Get(request.Id);
        container.CheckRemovable(request.Force);
        var pid = container.RunningPid;
        if (pid != 0)
        {
            Libc.kill(-pid, SigKill);
            Libc.kill(pid, SigKill);
            if (container.Cgroup is not null)
            {
                Cgroups.Kill(container.Cgroup);
            }

            try
            {
                await container.Exited.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new AgentException(AgentErrorKind.Internal, $"container {request.Id} (pid {pid}) did not die within 10s of SIGKILL");
            }
        }

        _store.Remove(container);
        container.Output.End();
        if (container.Cgroup is not null)
        {
            Cgroups.TryRemove(container.Cgroup);
        }

        AgentLog.ContainerRemoved(_logger, request.Id);
        return new RemoveContainerResponse();
    }

    private ListContainersResponse ListContainers()
    {
        var response = new ListContainersResponse();
        response.Containers.AddRange(_store.List().Select(c => c.Snapshot()).OrderBy(c => c.CreatedAtUnixNano));
        return response;
    }

    private UpdateResourcesResponse UpdateResources(UpdateResourcesRequest request)
    {
        var container = _store.Get(request.Id);
        if (container.Cgroup is null)
        {
            throw new AgentException(
                AgentErrorKind.FailedPrecondition, $"cannot update resources of container {request.Id}: the guest has no cgroup v2 at {_options.CgroupRoot}");
        }

        _cgroups.Apply(container.Cgroup, request.Resources ?? new Resources());
        return new UpdateResourcesResponse();
    }
}
