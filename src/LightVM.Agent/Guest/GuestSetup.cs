using System.Runtime.InteropServices;
using LightVM.Agent.Native;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Guest;

/// <summary>
/// Mounts what the guest needs when the agent starts under the tiny init: each only if not already mounted, and a
/// failure is logged rather than fatal (a kernel without cgroup2 still runs containers, just without limits).
/// </summary>
internal static class GuestSetup
{
    public static void MountBasics(string cgroupRoot, ILogger logger)
    {
        const ulong Common = Libc.MsNosuid | Libc.MsNodev;
        MountIfMissing("proc", "/proc", "proc", Common | Libc.MsNoexec, null, logger);
        MountIfMissing("sysfs", "/sys", "sysfs", Common | Libc.MsNoexec, null, logger);
        MountIfMissing("devtmpfs", "/dev", "devtmpfs", Libc.MsNosuid, null, logger);
        MountIfMissing("devpts", "/dev/pts", "devpts", Libc.MsNosuid | Libc.MsNoexec, "ptmxmode=0666,mode=0620", logger);
        MountIfMissing("shm", "/dev/shm", "tmpfs", Common, "mode=1777", logger);
        MountIfMissing("tmpfs", "/tmp", "tmpfs", Common, "mode=1777", logger);
        MountIfMissing("tmpfs", "/run", "tmpfs", Common, "mode=755", logger);
        if (SupportsFileSystem("cgroup2"))
        {
            MountIfMissing("cgroup2", cgroupRoot, "cgroup2", Common | Libc.MsNoexec, null, logger);
        }
    }

    private static void MountIfMissing(string source, string target, string fsType, ulong flags, string? data, ILogger logger)
    {
        try
        {
            Directory.CreateDirectory(target);
            if (MountTable.IsMountPoint(target))
            {
                return;
            }

            if (Libc.mount(source, target, fsType, flags, data) != 0)
            {
                AgentLog.GuestMountFailed(logger, target, fsType, Libc.Describe(Marshal.GetLastPInvokeError()));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            AgentLog.GuestMountFailed(logger, target, fsType, e.Message);
        }
    }

    private static bool SupportsFileSystem(string fsType)
    {
        try
        {
            return File.ReadLines("/proc/filesystems").Any(line => line.EndsWith("\t" + fsType, StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }
}
