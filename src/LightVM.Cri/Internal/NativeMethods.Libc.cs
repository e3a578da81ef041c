using System.Runtime.InteropServices;

namespace LightVM.Cri;

/// <summary>libc calls the BCL does not offer.</summary>
internal static partial class NativeMethods
{
    internal static partial class Libc
    {
        /// <summary>chown(2); -1 leaves an id unchanged.</summary>
        [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Chown(string path, int owner, int group);

        /// <summary>fcntl's F_DUPFD_CLOEXEC: dup(2) whose copy is closed on exec.</summary>
        internal const int FDupFdCloexec = 1030;

        /// <summary>fcntl(2) with an int argument.</summary>
        [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
        internal static partial int Fcntl(int fd, int command, int argument);
    }
}
