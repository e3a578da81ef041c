using System.Runtime.CompilerServices;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Agent.Protocol.Client;

/// <summary>
/// The host's handle on one VM's agent: one instance per VM, thread-safe, shared by all callers. Connects lazily
/// through <c>connect</c> (unix socket now, Xen console later) and reconnects on the next call after the connection
/// broke. Calls in flight when a connection breaks fail with <see cref="AgentErrorKind.Unavailable"/>; they are not
/// retried because not all of them are idempotent. Guest state (containers, exit statuses, buffered output) survives
/// reconnects; output is resumed with <see cref="ReadOutputAsync"/> from the last offset the caller consumed.
/// </summary>
public sealed partial class AgentClient : IAsyncDisposable
{
    private readonly Func<CancellationToken, ValueTask<Stream>> _connect;
    private readonly AgentClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private volatile AgentConnection? _current;
    private string? _instanceId;

    public AgentClient(Func<CancellationToken, ValueTask<Stream>> connect, AgentClientOptions options, ILogger<AgentClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(connect);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _connect = connect;
        _options = options;
        _logger = logger ?? NullLogger<AgentClient>.Instance;
    }

    /// <summary>The agent instance seen at the last handshake; it changes when the agent restarted.</summary>
    public string? AgentInstanceId => _instanceId;

    /// <summary>Connects now (otherwise the first call does) and returns the agent's handshake answer.</summary>
    public async Task<HelloAck> ConnectAsync(CancellationToken cancellationToken) =>
        (await GetConnectionAsync(cancellationToken).ConfigureAwait(false)).Handshake;

    private async ValueTask<AgentConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = _current;
        if (connection is { IsAlive: true })
        {
            return connection;
        }

        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            connection = _current;
            if (connection is { IsAlive: true })
            {
                return connection;
            }

            _current = null;
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            Stream stream;
            try
            {
                stream = await _connect(linked.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not AgentException)
            {
                AgentClientLog.ConnectFailed(_logger, _options.Name, e.Message);
                throw new AgentException(AgentErrorKind.Unavailable, $"cannot connect to agent {_options.Name}: {e.Message}", e);
            }

            connection = await AgentConnection.OpenAsync(stream, _options, _logger, linked.Token).ConfigureAwait(false);
            var ack = connection.Handshake;
            AgentClientLog.Connected(_logger, _options.Name, ack.AgentVersion, ack.ProtocolVersion, ack.AgentInstanceId);
            if (_instanceId is not null && _instanceId != ack.AgentInstanceId)
            {
                AgentClientLog.AgentRestarted(_logger, _options.Name, _instanceId, ack.AgentInstanceId);
            }

            _instanceId = ack.AgentInstanceId;
            _current = connection;
            return connection;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    private async Task<Response> CallAsync(Request request, Response.ResultOneofCase expected, CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var response = await connection.CallAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.ResultCase != expected)
        {
            throw new AgentException(
                AgentErrorKind.Internal, $"agent {_options.Name} answered {request.CallCase} with {response.ResultCase}");
        }

        return response;
    }

    /// <summary>
    /// Streams a container's output from <paramref name="fromOffset"/> until the output ends. Everything below
    /// <paramref name="fromOffset"/> is released in the guest, and so is each record once the caller asks for the
    /// next one. After a broken connection (<see cref="AgentErrorKind.Unavailable"/>) call again from the offset
    /// after the last record consumed: nothing is lost or repeated.
    /// </summary>
    public async IAsyncEnumerable<OutputRecord> ReadOutputAsync(
        string containerId, ulong fromOffset, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
        var request = new Request { ReadOutput = new ReadOutputRequest { Id = containerId, FromOffset = fromOffset } };
        var (id, call) = await connection.OpenStreamAsync(request, cancellationToken).ConfigureAwait(false);
        var ended = false;
        try
        {
            var window = _options.OutputWindowBytes;
            await connection.GrantAsync(id, window, null, cancellationToken).ConfigureAwait(false);
            var consumed = 0;
            ulong acked = fromOffset;
            ulong next = fromOffset;
            while (true)
            {
                if (!call.Items.TryRead(out var item))
                {
                    // Caught up: hand back credit and acknowledge before waiting, so a small guest buffer never
                    // waits for an acknowledgement this side holds back.
                    if (consumed > 0 || next != acked)
                    {
                        await connection.GrantAsync(id, consumed, next, cancellationToken).ConfigureAwait(false);
                        consumed = 0;
                        acked = next;
                    }

                    if (!await call.Items.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        ended = true;
                        yield break;
                    }

                    continue;
                }

                foreach (var record in item.Output.Records)
                {
                    yield return record;
                    consumed += record.Data.Length;
                    next = record.Offset + (ulong)record.Data.Length;
                }

                if (consumed >= window / 2)
                {
                    await connection.GrantAsync(id, consumed, next, cancellationToken).ConfigureAwait(false);
                    consumed = 0;
                    acked = next;
                }
            }
        }
        finally
        {
            if (!ended)
            {
                connection.Abandon(id, CancellationToken.None);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        await _disposed.CancelAsync().ConfigureAwait(false);
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_current is { } connection)
            {
                _current = null;
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }
}
