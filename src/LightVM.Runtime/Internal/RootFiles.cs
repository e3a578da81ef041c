using System.Runtime.InteropServices;
using System.Text;

namespace LightVM.Runtime.Internal;

/// <summary>
/// Reads small files of a container rootfs from the host with every symlink resolved inside that rootfs
/// (openat2 with RESOLVE_IN_ROOT), so an image's <c>/etc/passwd -&gt; /etc/shadow</c> reads its own file, never the
/// host's.
/// </summary>
internal static partial class RootFiles
{
    private const long SysOpenat2 = 437;
    private const ulong ResolveNoMagiclinks = 0x02;
    private const ulong ResolveInRoot = 0x10;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;
    private const int ELOOP = 40;
    private const int MaxBytes = 4 << 20;
    private const int OCloexec = 0x80000;
    private const int ODirectory = 0x10000;
    private const int OPath = 0x200000;

    /// <summary>The file's text, or null when it (or a directory on its way) does not exist.</summary>
    public static string? ReadText(string root, string path)
    {
        var rootFd = Open(root, OPath | ODirectory | OCloexec);
        if (rootFd < 0)
        {
            throw new IOException($"opening rootfs {root}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        using var rootHandle = new Microsoft.Win32.SafeHandles.SafeFileHandle(rootFd, ownsHandle: true);
        var how = new OpenHow { Flags = OCloexec, Resolve = ResolveInRoot | ResolveNoMagiclinks };
        var fd = (int)Syscall(SysOpenat2, rootFd, path.TrimStart('/'), ref how, (nuint)Marshal.SizeOf<OpenHow>());
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR or ELOOP
                ? null
                : throw new IOException($"opening {path} in {root}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        using var stream = new FileStream(handle, FileAccess.Read);
        var buffer = new byte[MaxBytes];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = stream.Read(buffer, total, buffer.Length - total)) > 0)
        {
            total += read;
        }

        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial long Syscall(long number, long dirfd, string path, ref OpenHow how, nuint size);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);
}
