using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using LightVM.Agent.Native;
using LightVM.Agent.Protocol;
using Microsoft.Win32.SafeHandles;

namespace LightVM.Agent.Processes;

/// <summary>A process started through lightvm-exec; the caller owns the output streams.</summary>
internal sealed record LaunchedProcess(int Pid, Task<WaitStatus> Exited, PipeStream Stdout, PipeStream Stderr);

/// <summary>
/// Starts processes through the lightvm-exec helper: posix_spawn (no managed code runs in the child), the spec on
/// fd 3 and a close-on-exec status pipe on fd 4 that tells success (EOF) from a failed setup step.
/// </summary>
internal sealed class ProcessLauncher
{
    private const int HighFd = 10;
    private readonly string _helperPath;
    private readonly ChildReaper _reaper;

    public ProcessLauncher(string helperPath, ChildReaper reaper)
    {
        _helperPath = helperPath;
        _reaper = reaper;
    }

    /// <summary>Starts the process; throws the helper's failure mapped for <paramref name="where"/>.</summary>
    public async Task<LaunchedProcess> LaunchAsync(ExecSpec spec, string where)
    {
        var encoded = spec.Encode();
        var fds = new List<int>();
        try
        {
            var (stdoutRead, stdoutWrite) = CreatePipe(fds);
            var (stderrRead, stderrWrite) = CreatePipe(fds);
            var (specRead, specWrite) = CreatePipe(fds);
            var (statusRead, statusWrite) = CreatePipe(fds);
            WriteSpec(specWrite, encoded);
            Close(fds, specWrite);

            var pid = _reaper.Spawn(() => Spawn(stdoutWrite, stderrWrite, specRead, statusWrite), out var exited);
            Close(fds, stdoutWrite);
            Close(fds, stderrWrite);
            Close(fds, specRead);
            Close(fds, statusWrite);

            var stdout = OpenRead(fds, stdoutRead);
            var stderr = OpenRead(fds, stderrRead);
            byte[] report;
            using (var status = OpenRead(fds, statusRead))
            {
                using var buffer = new MemoryStream();
                // Not cancellable: once spawned, the outcome must be collected or the process would leak.
                await status.CopyToAsync(buffer, CancellationToken.None).ConfigureAwait(false);
                report = buffer.ToArray();
            }

            if (report.Length > 0)
            {
                await stdout.DisposeAsync().ConfigureAwait(false);
                await stderr.DisposeAsync().ConfigureAwait(false);
                await exited.ConfigureAwait(false);
                throw ExecFailure.Parse(report).ToAgentException(where);
            }

            return new LaunchedProcess(pid, exited, stdout, stderr);
        }
        finally
        {
            foreach (var fd in fds)
            {
                Libc.close(fd);
            }
        }
    }

    // Unsafe: pointers into stack buffers and pinned arrays that live for the whole call; posix_spawn copies
    // what it needs before returning.
    private unsafe int Spawn(int stdoutWrite, int stderrWrite, int specRead, int statusWrite)
    {
        var actions = stackalloc byte[Libc.SpawnFileActionsSize];
        var path = Encoding.UTF8.GetBytes(_helperPath + "\0");
        Libc.posix_spawn_file_actions_init(actions);
        try
        {
            // All sources are >= HighFd, so no dup2 below overwrites a source that a later one still needs.
            fixed (byte* devNull = "/dev/null\0"u8)
            fixed (byte* helper = path)
            {
                Libc.posix_spawn_file_actions_addopen(actions, 0, devNull, Libc.ORdonly, 0);
                Libc.posix_spawn_file_actions_adddup2(actions, stdoutWrite, 1);
                Libc.posix_spawn_file_actions_adddup2(actions, stderrWrite, 2);
                Libc.posix_spawn_file_actions_adddup2(actions, specRead, 3);
                Libc.posix_spawn_file_actions_adddup2(actions, statusWrite, 4);
                var argv = stackalloc byte*[] { helper, null };
                var envp = stackalloc byte*[] { null };
                int pid;

                // posix_spawn returns the error number instead of setting errno.
                var error = Libc.posix_spawn(&pid, helper, actions, null, argv, envp);
                if (error != 0)
                {
                    throw new AgentException(
                        AgentErrorKind.Internal, $"cannot start the exec helper {_helperPath}: {Libc.Describe(error)}");
                }

                return pid;
            }
        }
        finally
        {
            Libc.posix_spawn_file_actions_destroy(actions);
        }
    }

    // Unsafe: pipe2 writes two ints into a stack buffer of two ints.
    private static unsafe (int Read, int Write) CreatePipe(List<int> fds)
    {
        var pair = stackalloc int[2];
        if (Libc.pipe2(pair, Libc.OCloexec) != 0)
        {
            throw new AgentException(AgentErrorKind.Internal, $"pipe2 failed: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }

        var read = MoveHigh(pair[0]);
        fds.Add(read);
        var write = MoveHigh(pair[1]);
        fds.Add(write);
        return (read, write);
    }

    private static int MoveHigh(int fd)
    {
        if (fd >= HighFd)
        {
            return fd;
        }

        var moved = Libc.fcntl(fd, Libc.FDupfdCloexec, HighFd);
        var errno = Marshal.GetLastPInvokeError();
        Libc.close(fd);
        if (moved < 0)
        {
            throw new AgentException(AgentErrorKind.Internal, $"fcntl(F_DUPFD_CLOEXEC) failed: {Libc.Describe(errno)}");
        }

        return moved;
    }

    /// <summary>Writes the whole spec before the child exists; the pipe is grown so it never blocks.</summary>
    // Unsafe: write() reads within the pinned array's bounds.
    private static unsafe void WriteSpec(int fd, byte[] spec)
    {
        if (spec.Length > 64 * 1024 && Libc.fcntl(fd, Libc.FSetpipeSz, spec.Length) < 0)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument, $"the process spec of {spec.Length} bytes does not fit a pipe: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }

        fixed (byte* start = spec)
        {
            var written = 0;
            while (written < spec.Length)
            {
                var n = Libc.write(fd, start + written, spec.Length - written);
                if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EIntr)
                {
                    continue;
                }

                if (n <= 0)
                {
                    throw new AgentException(AgentErrorKind.Internal, $"writing the process spec failed: {Libc.Describe(Marshal.GetLastPInvokeError())}");
                }

                written += (int)n;
            }
        }
    }

    private static void Close(List<int> fds, int fd)
    {
        fds.Remove(fd);
        Libc.close(fd);
    }

    /// <summary>Hands a pipe's read end to a stream that reads it asynchronously (epoll, no blocked thread).</summary>
    private static PipeStream OpenRead(List<int> fds, int fd)
    {
        fds.Remove(fd);
        return new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(fd, ownsHandle: true));
    }
}
