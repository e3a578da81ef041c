using System.Runtime.InteropServices;

namespace LightVM.Runtime.Internal;

/// <summary>The host mounts a container needs: its overlay rootfs and the binds of its ContainerConfig mounts.</summary>
internal static class HostMounts
{
    /// <summary>Mounts an overlay at <paramref name="target"/>: read-only image layers (top first) under a writable upper.</summary>
    public static void Overlay(IReadOnlyList<string> lowerTopFirst, string upper, string work, string target)
    {
        var options = $"lowerdir={string.Join(':', lowerTopFirst)},upperdir={upper},workdir={work}";
        if (NativeMethods.Libc.Mount("overlay", target, "overlay", 0, options) != 0)
        {
            throw Failure($"mount the overlay rootfs at {target}");
        }
    }

    public static void Bind(string source, string target, bool readOnly)
    {
        if (NativeMethods.Libc.Mount(source, target, null, NativeMethods.Libc.MsBind | NativeMethods.Libc.MsRec, null) != 0)
        {
            throw Failure($"bind-mount {source} at {target}");
        }

        if (readOnly && NativeMethods.Libc.Mount(null, target, null,
                NativeMethods.Libc.MsBind | NativeMethods.Libc.MsRemount | NativeMethods.Libc.MsRdonly, null) != 0)
        {
            var error = Failure($"remount {target} read-only");
            NativeMethods.Libc.Umount2(target, NativeMethods.Libc.MntDetach);
            throw error;
        }
    }

    /// <summary>Detaches the mount at <paramref name="target"/>; a path that is not mounted (or gone) is fine.</summary>
    public static void Unmount(string target)
    {
        if (NativeMethods.Libc.Umount2(target, NativeMethods.Libc.MntDetach) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            const int EINVAL = 22, ENOENT = 2;
            if (errno is not EINVAL and not ENOENT)
            {
                throw new RuntimeException(RuntimeErrorKind.Internal, $"unmount {target}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    private static RuntimeException Failure(string what)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new RuntimeException(RuntimeErrorKind.Internal, $"{what}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
