using System.Runtime.InteropServices;
using LightVM.Agent.Containers;
using LightVM.Agent.Guest;
using LightVM.Agent.Native;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Service;

internal sealed partial class AgentService
{
    private const int ENoent = 2;
    private const int EBusy = 16;
    private const int ENodev = 19;
    private const int EInval = 22;

    private InfoResponse Info() => new()
    {
        AgentVersion = AgentVersion.Value,
        ProtocolVersion = AgentProtocol.Version,
        KernelRelease = ProcFs.KernelRelease(),
        BootTimeUnixNano = ProcFs.BootTimeUnixNano(),
        UptimeNanos = ProcFs.UptimeNanos(),
        AgentInstanceId = _instanceId,
        AgentStartUnixNano = _startedAt,
        CgroupV2 = _cgroups.Available,
        CpuCount = (uint)Environment.ProcessorCount,
        MemoryTotalBytes = ProcFs.Memory().Total,
        Hostname = ProcFs.Hostname(),
    };

    private MountShareResponse MountShare(MountShareRequest request)
    {
        if (!Path.IsPathRooted(request.Target) || request.Source.Length == 0 || request.Fstype.Length == 0)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument, $"share {request.Source} -> {request.Target} needs a source, an fstype and an absolute target");
        }

        Directory.CreateDirectory(request.Target);
        if (MountTable.IsMountPoint(request.Target))
        {
            throw new AgentException(AgentErrorKind.AlreadyExists, $"{request.Target} is already a mount point");
        }

        var flags = request.Readonly ? Libc.MsRdonly : 0;
        if (Libc.mount(request.Source, request.Target, request.Fstype, flags, request.Options.Length > 0 ? request.Options : null) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var what = $"mounting {request.Source} ({request.Fstype}, {request.Options}) on {request.Target}";
            throw errno switch
            {
                ENodev => new AgentException(AgentErrorKind.FailedPrecondition, $"{what}: the guest kernel does not support {request.Fstype}"),
                ENoent => new AgentException(AgentErrorKind.NotFound, $"{what}: {Libc.Describe(errno)} (is the share/tag attached to the VM?)"),
                EInval => new AgentException(AgentErrorKind.InvalidArgument, $"{what}: {Libc.Describe(errno)}"),
                _ => new AgentException(AgentErrorKind.Internal, $"{what}: {Libc.Describe(errno)}"),
            };
        }

        AgentLog.ShareMounted(_logger, request.Source, request.Fstype, request.Target);
        return new MountShareResponse();
    }

    private static UnmountShareResponse UnmountShare(UnmountShareRequest request)
    {
        if (Libc.umount2(request.Target, 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                EInval or ENoent => new AgentException(AgentErrorKind.NotFound, $"{request.Target} is not a mount point"),
                EBusy => new AgentException(AgentErrorKind.FailedPrecondition, $"{request.Target} is busy (a container still uses it)"),
                _ => new AgentException(AgentErrorKind.Internal, $"unmounting {request.Target}: {Libc.Describe(errno)}"),
            };
        }

        return new UnmountShareResponse();
    }

    private ShutdownResponse Shutdown()
    {
        _power.ScheduleShutdown();
        return new ShutdownResponse();
    }

    private StatsResponse Stats(StatsRequest request)
    {
        var containers = request.Ids.Count == 0 ? _store.List() : request.Ids.Select(_store.Get).ToList();
        var response = new StatsResponse();
        foreach (var container in containers)
        {
            var pid = container.RunningPid;
            var stats = new ContainerStats { Id = container.Id, TimestampUnixNano = UnixTime.NowNanos() };
            if (container.Cgroup is not null)
            {
                (stats.CpuUsageNanos, stats.MemoryWorkingSetBytes) = Cgroups.Usage(container.Cgroup);
                stats.Source = "cgroup";
            }
            else if (pid != 0)
            {
                stats.CpuUsageNanos = ProcFs.ProcessCpuNanos(pid);
                stats.MemoryWorkingSetBytes = ProcFs.ResidentBytes(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
                stats.Source = "proc";
            }

            response.Containers.Add(stats);
        }

        var (total, available) = ProcFs.Memory();
        response.Vm = new VmStats
        {
            CpuUsageNanos = ProcFs.CpuBusyNanos(),
            MemoryTotalBytes = total,
            MemoryAvailableBytes = available,
            AgentRssBytes = ProcFs.ResidentBytes("self"),
            TimestampUnixNano = UnixTime.NowNanos(),
        };
        return response;
    }
}
