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

        /// <summary>dup(2).</summary>
        [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
        internal static partial int Dup(int fd);
    }
}
