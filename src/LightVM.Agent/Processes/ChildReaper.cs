using LightVM.Agent.Native;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Processes;

/// <summary>
/// Collects the exit status of every child on one dedicated thread with waitpid(-1). The agent is a child
/// subreaper, so orphaned descendants of containers land here too and are reaped (and ignored) instead of piling
/// up as zombies. Spawning goes through <see cref="Spawn"/> so a child that exits at once is never reaped before
/// anyone registered interest in it.
/// </summary>
internal sealed class ChildReaper
{
    private readonly object _gate = new();
    private readonly Dictionary<int, TaskCompletionSource<WaitStatus>> _waiters = [];
    private readonly SemaphoreSlim _spawned = new(0);
    private readonly ILogger _logger;
    private Thread? _thread;

    public ChildReaper(ILogger logger)
    {
        _logger = logger;
    }

    public void Start()
    {
        if (Libc.prctl(Libc.PrSetChildSubreaper, 1, 0, 0, 0) != 0)
        {
            AgentLog.SubreaperUnavailable(_logger, Libc.Describe(System.Runtime.InteropServices.Marshal.GetLastPInvokeError()));
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "reaper" };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="spawn"/> (which returns a pid) and registers for that child's exit.</summary>
    public int Spawn(Func<int> spawn, out Task<WaitStatus> exited)
    {
        var waiter = new TaskCompletionSource<WaitStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        int pid;
        lock (_gate)
        {
            pid = spawn();
            _waiters[pid] = waiter;
        }

        _spawned.Release();
        exited = waiter.Task;
        return pid;
    }

    // Unsafe: waitpid writes one int to a local.
    private unsafe void Run()
    {
        while (true)
        {
            int status;
            var pid = Libc.waitpid(-1, &status, 0);
            if (pid > 0)
            {
                var collected = UnixTime.NowNanos();
                TaskCompletionSource<WaitStatus>? waiter;
                lock (_gate)
                {
                    _waiters.Remove(pid, out waiter);
                }

                waiter?.TrySetResult(new WaitStatus(status, collected));
                continue;
            }

            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (errno == Libc.EChild)
            {
                // No children: sleep until the next spawn.
                _spawned.Wait(TimeSpan.FromSeconds(1));
            }
            else if (errno != Libc.EIntr)
            {
                AgentLog.ReaperError(_logger, Libc.Describe(errno));
                Thread.Sleep(100);
            }
        }
    }
}
