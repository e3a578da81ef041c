using System.Runtime.InteropServices;

namespace LightVM.Tinyx.Native;

internal static partial class NativeMethods
{
    internal const int AtFdCwd = -100;
    internal const int AtSymlinkNoFollow = 0x100;
    internal const uint StatxBasicStats = 0x7ff;

    /// <summary>statx(2): its buffer layout is the same on every architecture, unlike struct stat.</summary>
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Statx(int dirFd, string path, int flags, uint mask, Span<byte> buffer);
}
