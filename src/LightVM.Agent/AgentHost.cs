using LightVM.Agent.Channels;
using LightVM.Agent.Protocol.Server;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent;

/// <summary>
/// Serves host connections one at a time, forever: a new connection supersedes the previous one (a restarted
/// daemon), and the agent's state carries over from one to the next.
/// </summary>
internal sealed class AgentHost
{
    private readonly IHostChannel _channel;
    private readonly AgentServerSession _session;
    private readonly ILogger _logger;

    public AgentHost(IHostChannel channel, AgentServerSession session, ILogger logger)
    {
        _channel = channel;
        _session = session;
        _logger = logger;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        CancellationTokenSource? current = null;
        Task running = Task.CompletedTask;
        try
        {
            await foreach (var connection in _channel.AcceptAsync(cancellationToken).ConfigureAwait(false))
            {
                if (current is not null)
                {
                    await current.CancelAsync().ConfigureAwait(false);
                    await running.ConfigureAwait(false);
                    current.Dispose();
                }

                current = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                running = ServeAsync(connection, current.Token);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            if (current is not null)
            {
                await current.CancelAsync().ConfigureAwait(false);
                await running.ConfigureAwait(false);
                current.Dispose();
            }
        }
    }

    private async Task ServeAsync(HostConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await _session.RunAsync(connection.Pipe, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Superseded by a newer connection, or stopping.
        }
        catch (Exception e)
        {
            AgentLog.SessionFailed(_logger, e);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
