using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace LightVM.Images.Internal;

/// <summary>The libc calls unpacking and the content store need and .NET does not offer.</summary>
internal static partial class NativeMethods
{
    private const string Libc = "libc";

    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const uint StatxBasicStats = 0x7ff;
    public const int ODirectory = 0x10000;
    public const int OCloexec = 0x80000;
    public const int ORdonly = 0;
    public const int OWronly = 1;
    public const int OCreat = 0x40;
    public const int OExcl = 0x80;
    public const int ONoFollow = 0x20000;

    public const uint SIfMt = 0xF000;
    public const uint SIfDir = 0x4000;
    public const uint SIfLnk = 0xA000;
    public const uint SIfReg = 0x8000;
    public const uint SIfChr = 0x2000;
    public const uint SIfBlk = 0x6000;
    public const uint SIfIfo = 0x1000;

    public const int ENoEnt = 2;
    public const int EExist = 17;
    public const int ENotSup = 95;
    public const int EPerm = 1;

    /// <summary>The architecture-neutral <c>struct statx</c> (256 bytes), of which we read the basic fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Statx
    {
        public uint Mask;
        public uint BlkSize;
        public ulong Attributes;
        public uint NLink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private readonly ushort _spare0;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp ATime;
        public StatxTimestamp BTime;
        public StatxTimestamp CTime;
        public StatxTimestamp MTime;
        public uint RDevMajor;
        public uint RDevMinor;
        public uint DevMajor;
        public uint DevMinor;
        private unsafe fixed ulong _spare2[14];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct StatxTimestamp
    {
        public long Sec;
        public uint Nsec;
        private readonly int _reserved;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    [LibraryImport(Libc, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int StatxCall(int dirFd, string path, int flags, uint mask, out Statx buffer);

    [LibraryImport(Libc, EntryPoint = "lchown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int LChown(string path, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "chmod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chmod(string path, uint mode);

    [LibraryImport(Libc, EntryPoint = "mknod", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int MkNod(string path, uint mode, ulong dev);

    [LibraryImport(Libc, EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Link(string oldPath, string newPath);

    [LibraryImport(Libc, EntryPoint = "symlink", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Symlink(string target, string linkPath);

    [LibraryImport(Libc, EntryPoint = "lsetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int LSetXattr(string path, string name, ReadOnlySpan<byte> value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "utimensat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int UtimensAt(int dirFd, string path, ReadOnlySpan<Timespec> times, int flags);

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(SafeFileHandle fd, ReadOnlySpan<byte> buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "fchown", SetLastError = true)]
    public static partial int FChown(SafeFileHandle fd, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    public static partial int FChmod(SafeFileHandle fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "futimens", SetLastError = true)]
    public static partial int FUtimens(SafeFileHandle fd, ReadOnlySpan<Timespec> times);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "syncfs", SetLastError = true)]
    public static partial int SyncFs(SafeFileHandle fd);

    /// <summary>glibc's <c>makedev</c>, a macro in C.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8)
        | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    /// <summary>Opens <paramref name="directory"/> read-only for fsync/syncfs.</summary>
    public static SafeFileHandle OpenDirectory(string directory)
    {
        var fd = Open(directory, ORdonly | ODirectory | OCloexec);
        if (fd < 0)
        {
            throw new IOException($"open {directory}: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>lstat via statx; returns false when the path does not exist.</summary>
    public static bool TryLStat(string path, out Statx st)
    {
        if (StatxCall(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, out st) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno is ENoEnt or 20 /* ENOTDIR */)
        {
            return false;
        }

        throw new IOException($"stat {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    /// <summary>Throws an IOException naming <paramref name="what"/> and <paramref name="path"/> when <paramref name="rc"/> is negative.</summary>
    public static void Check(int rc, string what, string path)
    {
        if (rc < 0)
        {
            throw new IOException($"{what} {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        }
    }
}
