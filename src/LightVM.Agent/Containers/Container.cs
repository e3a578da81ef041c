using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Containers;

/// <summary>
/// One container: immutable spec plus a status changed only through the methods below, under one lock.
/// <code>
///   CreateContainer          StartContainer                main process reaped
///  ────────────────► Created ──────────────► Running ─────────────────────────► Exited
///                       │     (starting)                                           ▲
///                       └──── helper reported a setup error (reason StartError) ───┘
///  RemoveContainer: Created or Exited at once; Running only with force (killed, then removed).
/// </code>
/// </summary>
internal sealed class Container
{
    private readonly object _gate = new();
    private readonly TaskCompletionSource<ExitStatus> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ContainerState _state = ContainerState.Created;
    private bool _starting;
    private int _pid;
    private long _startedAt;

    public Container(CreateContainerRequest spec, string? cgroup, OutputLog output)
    {
        Spec = spec;
        Cgroup = cgroup;
        Output = output;
        CreatedAt = UnixTime.NowNanos();
    }

    public string Id => Spec.Id;

    public CreateContainerRequest Spec { get; }

    /// <summary>The container's cgroup directory, or null without cgroup v2.</summary>
    public string? Cgroup { get; }

    public OutputLog Output { get; }

    public long CreatedAt { get; }

    public Task<ExitStatus> Exited => _exited.Task;

    /// <summary>The main process, or 0 when not running.</summary>
    public int RunningPid
    {
        get
        {
            lock (_gate)
            {
                return _state == ContainerState.Running ? _pid : 0;
            }
        }
    }

    public void BeginStart()
    {
        lock (_gate)
        {
            if (_state != ContainerState.Created || _starting)
            {
                throw new AgentException(
                    AgentErrorKind.FailedPrecondition, $"container {Id} is {Describe(_state, _starting)}; only a created container can be started");
            }

            _starting = true;
        }
    }

    public void MarkRunning(int pid, long startedAt)
    {
        lock (_gate)
        {
            _state = ContainerState.Running;
            _starting = false;
            _pid = pid;
            _startedAt = startedAt;
        }
    }

    public void MarkStartFailed(string reason)
    {
        var now = UnixTime.NowNanos();
        lock (_gate)
        {
            _state = ContainerState.Exited;
            _starting = false;
            _startedAt = now;
        }

        Output.End();
        _exited.TrySetResult(new ExitStatus { ExitCode = 128, StartedAtUnixNano = now, FinishedAtUnixNano = now, Reason = $"StartError: {reason}" });
    }

    public void MarkExited(ExitStatus status)
    {
        lock (_gate)
        {
            _state = ContainerState.Exited;
        }

        _exited.TrySetResult(status);
    }

    /// <summary>Refuses to remove a container that runs or is starting, unless it is going to be killed.</summary>
    public void CheckRemovable(bool force)
    {
        lock (_gate)
        {
            if (_starting || (_state == ContainerState.Running && !force))
            {
                throw new AgentException(
                    AgentErrorKind.FailedPrecondition, $"container {Id} is {Describe(_state, _starting)}; stop it first or remove with force");
            }
        }
    }

    public ContainerInfo Snapshot()
    {
        lock (_gate)
        {
            return new ContainerInfo
            {
                Id = Id,
                State = _state,
                Pid = _state == ContainerState.Running ? (uint)_pid : 0,
                Exit = _exited.Task.IsCompletedSuccessfully ? _exited.Task.Result : null,
                CreatedAtUnixNano = CreatedAt,
                StartedAtUnixNano = _startedAt,
                OutputEndOffset = (ulong)Output.EndOffset,
                OutputEnded = Output.Ended,
            };
        }
    }

    private static string Describe(ContainerState state, bool starting) => starting ? "starting" : state switch
    {
        ContainerState.Created => "created",
        ContainerState.Running => "running",
        _ => "exited",
    };
}
