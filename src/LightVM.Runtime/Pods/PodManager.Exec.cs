using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;
using LightVM.Runtime.Store;
using ContainerState = LightVM.Runtime.Store.ContainerState;

namespace LightVM.Runtime.Pods;

public sealed partial class PodManager
{
    /// <summary>Runs a command in a running container. A timeout kills it and fails with DeadlineExceeded.</summary>
    public async Task<ExecResult> ExecSyncAsync(string idOrPrefix, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var container = ResolveContainer(idOrPrefix);
        var id = container.Metadata.Id;
        if (command.Count == 0)
        {
            throw new RuntimeException(RuntimeErrorKind.InvalidArgument, "exec: cmd is required");
        }

        if (container.Status.State != ContainerState.Running || !_live.TryGetValue(container.Metadata.PodId, out var live))
        {
            throw new RuntimeException(RuntimeErrorKind.FailedPrecondition, $"container {id} is not running");
        }

        var request = new ExecSyncRequest { Id = id, TimeoutMs = (uint)Math.Clamp(timeout.TotalMilliseconds, 0, uint.MaxValue) };
        request.Args.AddRange(command);
        try
        {
            var response = await live.Agent.ExecSyncAsync(request, cancellationToken).ConfigureAwait(false);
            var code = response.Signal != 0 ? 128 + (int)response.Signal : response.ExitCode;
            return new ExecResult(code, response.Stdout.ToByteArray(), response.Stderr.ToByteArray());
        }
        catch (AgentException e) when (e.Kind == AgentErrorKind.DeadlineExceeded)
        {
            throw new RuntimeException(RuntimeErrorKind.DeadlineExceeded,
                $"exec in container {id} timed out after {timeout.TotalSeconds} s: {e.Message}", e);
        }
    }
}
