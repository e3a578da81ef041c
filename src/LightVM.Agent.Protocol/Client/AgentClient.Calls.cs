using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Protocol.Client;

/// <summary>One method per agent call. Errors reported by the agent surface as <see cref="AgentException"/>.</summary>
public sealed partial class AgentClient
{
    public async Task<PingResponse> PingAsync(PingRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { Ping = request }, Response.ResultOneofCase.Ping, cancellationToken).ConfigureAwait(false)).Ping;

    public async Task<InfoResponse> InfoAsync(InfoRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { Info = request }, Response.ResultOneofCase.Info, cancellationToken).ConfigureAwait(false)).Info;

    public async Task<MountShareResponse> MountShareAsync(MountShareRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { MountShare = request }, Response.ResultOneofCase.MountShare, cancellationToken).ConfigureAwait(false)).MountShare;

    public async Task<UnmountShareResponse> UnmountShareAsync(UnmountShareRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { UnmountShare = request }, Response.ResultOneofCase.UnmountShare, cancellationToken).ConfigureAwait(false)).UnmountShare;

    public async Task<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { CreateContainer = request }, Response.ResultOneofCase.CreateContainer, cancellationToken).ConfigureAwait(false)).CreateContainer;

    public async Task<StartContainerResponse> StartContainerAsync(StartContainerRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { StartContainer = request }, Response.ResultOneofCase.StartContainer, cancellationToken).ConfigureAwait(false)).StartContainer;

    public async Task<SignalContainerResponse> SignalContainerAsync(SignalContainerRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { SignalContainer = request }, Response.ResultOneofCase.SignalContainer, cancellationToken).ConfigureAwait(false)).SignalContainer;

    /// <summary>Waits until the container exits; may wait as long as the container runs.</summary>
    public async Task<WaitContainerResponse> WaitContainerAsync(WaitContainerRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { WaitContainer = request }, Response.ResultOneofCase.WaitContainer, cancellationToken).ConfigureAwait(false)).WaitContainer;

    /// <summary>Runs a command in a running container; a timeout kills it and fails with DeadlineExceeded.</summary>
    public async Task<ExecSyncResponse> ExecSyncAsync(ExecSyncRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { ExecSync = request }, Response.ResultOneofCase.ExecSync, cancellationToken).ConfigureAwait(false)).ExecSync;

    public async Task<StatsResponse> StatsAsync(StatsRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { Stats = request }, Response.ResultOneofCase.Stats, cancellationToken).ConfigureAwait(false)).Stats;

    public async Task<UpdateResourcesResponse> UpdateResourcesAsync(UpdateResourcesRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { UpdateResources = request }, Response.ResultOneofCase.UpdateResources, cancellationToken).ConfigureAwait(false)).UpdateResources;

    public async Task<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { RemoveContainer = request }, Response.ResultOneofCase.RemoveContainer, cancellationToken).ConfigureAwait(false)).RemoveContainer;

    public async Task<ListContainersResponse> ListContainersAsync(ListContainersRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { ListContainers = request }, Response.ResultOneofCase.ListContainers, cancellationToken).ConfigureAwait(false)).ListContainers;

    /// <summary>Runs a throwaway container so the guest's container start path is warm (see WarmUpRequest).</summary>
    public async Task<WarmUpResponse> WarmUpAsync(WarmUpRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { WarmUp = request }, Response.ResultOneofCase.WarmUp, cancellationToken).ConfigureAwait(false)).WarmUp;

    /// <summary>Asks the agent to sync and power the VM off; the answer comes before the power-off.</summary>
    public async Task<ShutdownResponse> ShutdownAsync(ShutdownRequest request, CancellationToken cancellationToken) =>
        (await CallAsync(new Request { Shutdown = request }, Response.ResultOneofCase.Shutdown, cancellationToken).ConfigureAwait(false)).Shutdown;
}
