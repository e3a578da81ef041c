using LightVM.Agent.Containers;
using LightVM.Agent.Guest;
using LightVM.Agent.Processes;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Server;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Service;

/// <summary>
/// The agent's calls. Handlers validate, act, and throw <see cref="AgentException"/> with the kind the host maps to
/// a gRPC status. State lives in the <see cref="ContainerStore"/>, which outlives host connections.
/// </summary>
internal sealed partial class AgentService : IAgentService
{
    private readonly AgentOptions _options;
    private readonly ContainerStore _store;
    private readonly ProcessLauncher _launcher;
    private readonly Cgroups _cgroups;
    private readonly PowerControl _power;
    private readonly ILogger _logger;
    private readonly string _instanceId;
    private readonly long _startedAt = UnixTime.NowNanos();

    public AgentService(
        AgentOptions options, ContainerStore store, ProcessLauncher launcher, Cgroups cgroups, PowerControl power, string instanceId, ILogger logger)
    {
        _options = options;
        _store = store;
        _launcher = launcher;
        _cgroups = cgroups;
        _power = power;
        _instanceId = instanceId;
        _logger = logger;
    }

    public async ValueTask<Response> CallAsync(Request request, CancellationToken cancellationToken) => request.CallCase switch
    {
        Request.CallOneofCase.Ping => new Response { Ping = new PingResponse { Nonce = request.Ping.Nonce } },
        Request.CallOneofCase.Info => new Response { Info = Info() },
        Request.CallOneofCase.MountShare => new Response { MountShare = MountShare(request.MountShare) },
        Request.CallOneofCase.UnmountShare => new Response { UnmountShare = UnmountShare(request.UnmountShare) },
        Request.CallOneofCase.CreateContainer => new Response { CreateContainer = CreateContainer(request.CreateContainer) },
        Request.CallOneofCase.StartContainer => new Response { StartContainer = await StartContainerAsync(request.StartContainer).ConfigureAwait(false) },
        Request.CallOneofCase.SignalContainer => new Response { SignalContainer = SignalContainer(request.SignalContainer) },
        Request.CallOneofCase.WaitContainer => new Response { WaitContainer = await WaitContainerAsync(request.WaitContainer, cancellationToken).ConfigureAwait(false) },
        Request.CallOneofCase.ExecSync => new Response { ExecSync = await ExecSyncAsync(request.ExecSync, cancellationToken).ConfigureAwait(false) },
        Request.CallOneofCase.Stats => new Response { Stats = Stats(request.Stats) },
        Request.CallOneofCase.UpdateResources => new Response { UpdateResources = UpdateResources(request.UpdateResources) },
        Request.CallOneofCase.RemoveContainer => new Response { RemoveContainer = await RemoveContainerAsync(request.RemoveContainer).ConfigureAwait(false) },
        Request.CallOneofCase.ListContainers => new Response { ListContainers = ListContainers() },
        Request.CallOneofCase.WarmUp => new Response { WarmUp = await WarmUpAsync(request.WarmUp, cancellationToken).ConfigureAwait(false) },
        Request.CallOneofCase.Shutdown => new Response { Shutdown = Shutdown() },
        _ => throw new AgentException(AgentErrorKind.InvalidArgument, $"{request.CallCase} is not a unary call"),
    };

    public ValueTask StreamAsync(Request request, IStreamSink sink, CancellationToken cancellationToken) => request.CallCase switch
    {
        Request.CallOneofCase.ReadOutput => ReadOutputAsync(request.ReadOutput, sink, cancellationToken),
        _ => throw new AgentException(AgentErrorKind.InvalidArgument, $"{request.CallCase} is not a streaming call"),
    };

    private Container Running(string id, string action)
    {
        var container = _store.Get(id);
        if (container.RunningPid == 0)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"cannot {action}: container {id} is not running");
        }

        return container;
    }
}
