using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

using LightVM.Toolstack.Internal;

namespace LightVM.Toolstack;

/// <summary>
/// Host mounts that carry host directories into a VM's share: binds, and the overlay rootfs the runtime builds there.
/// A bind goes onto a subdirectory of the share, never the share root itself: QEMU holds a descriptor on the root
/// taken at start, so a mount over the root would stay invisible to the guest, while lookups below the root cross
/// into the mount.
/// </summary>
public static class HostMounts
{
    /// <summary>Mounts an overlay at <paramref name="target"/>: read-only layers (top first) under a writable upper.</summary>
    public static void Overlay(IReadOnlyList<string> lowerTopFirst, string upper, string work, string target)
    {
        var options = $"lowerdir={string.Join(':', lowerTopFirst)},upperdir={upper},workdir={work}";
        if (NativeMethods.Libc.Mount("overlay", target, "overlay", 0, options) != 0)
        {
            throw Failure("mount the overlay rootfs", "overlay", target);
        }
    }

    public static void Bind(string source, string target, bool readOnly)
    {
        if (NativeMethods.Libc.Mount(source, target, null, NativeMethods.Libc.MsBind | NativeMethods.Libc.MsRec, IntPtr.Zero) != 0)
        {
            throw Failure("bind-mount", source, target);
        }

        if (readOnly &&
            NativeMethods.Libc.Mount(null, target, null,
                NativeMethods.Libc.MsBind | NativeMethods.Libc.MsRemount | NativeMethods.Libc.MsRdonly, IntPtr.Zero) != 0)
        {
            var error = Failure("remount read-only", source, target);
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
                throw new ToolstackException(ToolstackErrorKind.Internal, $"unmount {target}: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    /// <summary>Detaches <paramref name="target"/> and every mount below it; not mounted is fine.</summary>
    public static void UnmountTree(string target)
    {
        foreach (var mountPoint in MountsUnder(target).OrderByDescending(p => p.Length))
        {
            Unmount(mountPoint);
        }
    }

    /// <summary>Mount points at or below <paramref name="path"/>, from /proc/self/mountinfo.</summary>
    public static IReadOnlyList<string> MountsUnder(string path)
    {
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var result = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "id parent major:minor root mount-point options ..." with spaces and such escaped as \ooo.
            var fields = line.Split(' ', 6);
            if (fields.Length < 5)
            {
                continue;
            }

            var mountPoint = Unescape(fields[4]);
            if (mountPoint == root || mountPoint.StartsWith(root + "/", StringComparison.Ordinal))
            {
                result.Add(mountPoint);
            }
        }

        return result;
    }

    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length &&
                byte.TryParse(field.AsSpan(i + 1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                bytes.Add(Convert.ToByte(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static ToolstackException Failure(string step, string source, string target)
    {
        var errno = Marshal.GetLastPInvokeError();
        var kind = errno == 2 ? ToolstackErrorKind.NotFound : ToolstackErrorKind.Internal;
        return new ToolstackException(kind, $"{step} {source} on {target}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
