using System.Runtime.InteropServices;

namespace LightVM.Agent.Native;

/// <summary>The libc calls the agent needs that .NET does not expose.</summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int OCloexec = 0x80000;
    public const int ORdonly = 0;
    public const int ORdwr = 2;
    public const int FDupfdCloexec = 1030;
    public const int FSetpipeSz = 1031;
    public const int WNohang = 1;
    public const int EIntr = 4;
    public const int EChild = 10;
    public const int ESrch = 3;
    public const int PrSetChildSubreaper = 36;
    public const ulong MsRdonly = 1;
    public const ulong MsNosuid = 2;
    public const ulong MsNodev = 4;
    public const ulong MsNoexec = 8;
    public const int MntDetach = 2;
    public const int RbAutoboot = 0x01234567;
    public const int RbPowerOff = 0x4321fedc;

    /// <summary>glibc's posix_spawn_file_actions_t is 80 bytes; reserve more in case the layout grows.</summary>
    public const int SpawnFileActionsSize = 256;

    public const int FGetfl = 3;
    public const int FSetfl = 4;
    public const int FSetownEx = 15;
    public const int FOwnerTid = 0;
    public const int OAsync = 0x2000;
    public const int SigBlock = 0;
    public const int SigIo = 29;

    /// <summary>sizeof(sigset_t) and sizeof(siginfo_t) in glibc and musl on x86-64.</summary>
    public const int SigsetSize = 128;
    public const int SiginfoSize = 128;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport(Lib, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int fcntl_ptr(int fd, int cmd, void* arg);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int gettid();

    [LibraryImport(Lib)]
    public static partial int pthread_sigmask(int how, void* set, void* oldSet);

    /// <summary>timeout: struct timespec { long tv_sec; long tv_nsec; }.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sigtimedwait(void* set, void* info, long* timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int open(byte* path, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, byte* buffer, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, byte* buffer, nint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_init(void* fileActions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_destroy(void* fileActions);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_adddup2(void* fileActions, int fd, int newFd);

    [LibraryImport(Lib)]
    public static partial int posix_spawn_file_actions_addopen(void* fileActions, int fd, byte* path, int flags, uint mode);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int kill(int pid, int signal);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport(Lib)]
    public static partial void sync();

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int reboot(int command);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>The message for an errno value, e.g. "No such file or directory".</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
