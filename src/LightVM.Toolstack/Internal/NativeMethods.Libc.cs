using System.Runtime.InteropServices;

namespace LightVM.Toolstack.Internal;

/// <summary>libc calls the BCL does not offer.</summary>
internal static partial class NativeMethods
{
    internal static partial class Libc
    {
        internal const ulong MsRdonly = 1;
        internal const ulong MsRemount = 32;
        internal const ulong MsBind = 4096;
        internal const ulong MsRec = 16384;
        internal const int MntDetach = 2;
        internal const int SigKill = 9;

        /// <summary>mount(2).</summary>
        [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Mount(string? source, string target, string? fileSystemType, ulong flags, IntPtr data);

        /// <summary>mount(2) with a text data argument (overlayfs options).</summary>
        [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Mount(string? source, string target, string? fileSystemType, ulong flags, string? data);

        /// <summary>umount2(2).</summary>
        [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Umount2(string target, int flags);

        internal const int PrioProcess = 0;

        /// <summary>setpriority(2); on Linux PRIO_PROCESS with a thread id sets that one thread's nice value.</summary>
        [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
        internal static partial int SetPriority(int which, uint who, int prio);

        /// <summary>kill(2).</summary>
        [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}
