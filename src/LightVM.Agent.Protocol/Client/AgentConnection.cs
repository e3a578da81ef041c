using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Google.Protobuf;
using LightVM.Agent.Protocol.Framing;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Protocol.Client;

/// <summary>
/// One connection to the agent: the handshake, a read loop that routes frames to calls by id, and a frame sender
/// shared by all calls. Once broken it stays broken; <see cref="AgentClient"/> opens a new one.
/// </summary>
internal sealed class AgentConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly FrameReader _reader;
    private readonly FrameSender _sender;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly ConcurrentDictionary<uint, PendingCall> _calls = new();
    private readonly AgentClientOptions _options;
    private readonly ILogger _logger;
    private int _nextCallId;
    private Task _readLoop = Task.CompletedTask;
    private Task _keepAlive = Task.CompletedTask;
    private volatile AgentException? _failure;

    private AgentConnection(Stream stream, AgentClientOptions options, ILogger logger)
    {
        _stream = stream;
        _options = options;
        _logger = logger;
        _input = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        _reader = new FrameReader(_input, options.MaxFrameBytes, resync: false, Timeout.InfiniteTimeSpan);
        _sender = new FrameSender(_output, AgentProtocol.MinMaxFrameBytes, _lifetime.Token);
    }

    public HelloAck Handshake { get; private set; } = new();

    public bool IsAlive => _failure is null;

    /// <summary>Runs the handshake on a fresh stream; owns and disposes the stream from then on.</summary>
    public static async Task<AgentConnection> OpenAsync(
        Stream stream, AgentClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var connection = new AgentConnection(stream, options, logger);
        try
        {
            await connection.HandshakeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        connection._readLoop = connection.ReadLoopAsync();
        connection._keepAlive = connection.KeepAliveAsync();
        return connection;
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        var hello = new Hello
        {
            ProtocolVersion = AgentProtocol.Version,
            HostVersion = _options.HostVersion,
            Nonce = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong))),
            MaxFrameBytes = (uint)_options.MaxFrameBytes,
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            await _sender.SendAsync(FrameType.Hello, 0, hello, timeout.Token).ConfigureAwait(false);

            // Whatever precedes our HelloAck (the tail of a frame the agent was writing to an earlier connection,
            // or an answer to an earlier Hello) is skipped.
            _reader.Hunt(FrameType.HelloAck);
            while (true)
            {
                var result = await _reader.ReadAsync(timeout.Token).ConfigureAwait(false);
                if (result.Status == FrameReadStatus.Completed)
                {
                    throw new AgentException(AgentErrorKind.Unavailable, $"agent {_options.Name} closed the connection during the handshake");
                }

                if (result.Status != FrameReadStatus.Frame)
                {
                    continue;
                }

                var ack = Parse(HelloAck.Parser, result.Payload);
                if (ack.Nonce != hello.Nonce)
                {
                    continue;
                }

                CheckCompatible(ack);
                Handshake = ack;
                _sender.MaxPayload = (int)Math.Clamp(ack.MaxFrameBytes, AgentProtocol.MinMaxFrameBytes, int.MaxValue);
                if (_reader.DiscardedBytes > 0)
                {
                    AgentClientLog.StaleBytesDiscarded(_logger, _options.Name, _reader.DiscardedBytes);
                }

                return;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new AgentException(
                AgentErrorKind.Unavailable,
                $"agent {_options.Name} did not answer the handshake within {_options.HandshakeTimeout.TotalSeconds:0.#}s " +
                $"({_reader.DiscardedBytes} bytes of other data received)");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new AgentException(AgentErrorKind.Unavailable, $"agent {_options.Name} connection broke during the handshake: {e.Message}", e);
        }
    }

    private void CheckCompatible(HelloAck ack)
    {
        if (ack.ProtocolVersion != AgentProtocol.Version)
        {
            throw new AgentException(
                AgentErrorKind.FailedPrecondition,
                $"agent {_options.Name} speaks protocol v{ack.ProtocolVersion} (agent {ack.AgentVersion}) but this host " +
                $"speaks v{AgentProtocol.Version} (host {_options.HostVersion}): rebuild the guest image with a matching agent");
        }

        if (ack.Error.Length > 0)
        {
            throw new AgentException(AgentErrorKind.FailedPrecondition, $"agent {_options.Name} refused the connection: {ack.Error}");
        }
    }

    /// <summary>Sends a request and waits for its response or error.</summary>
    public async Task<Response> CallAsync(Request request, CancellationToken cancellationToken)
    {
        var call = new UnaryCall();
        var id = Register(call);
        using var registration = cancellationToken.Register(() => Abandon(id, cancellationToken));
        await SendRequestAsync(id, request, cancellationToken).ConfigureAwait(false);
        return await call.Task.ConfigureAwait(false);
    }

    /// <summary>Opens a streaming call; the caller grants credit with <see cref="GrantAsync"/>.</summary>
    public async Task<(uint Id, StreamingCall Call)> OpenStreamAsync(Request request, CancellationToken cancellationToken)
    {
        var call = new StreamingCall();
        var id = Register(call);
        await SendRequestAsync(id, request, cancellationToken).ConfigureAwait(false);
        return (id, call);
    }

    public ValueTask GrantAsync(uint id, int creditBytes, ulong? ackOffset, CancellationToken cancellationToken)
    {
        var update = new WindowUpdate { CreditBytes = (uint)creditBytes };
        if (ackOffset is { } ack)
        {
            update.AckOffset = ack;
        }

        return _sender.SendAsync(FrameType.Window, id, update, cancellationToken);
    }

    /// <summary>Stops waiting for call <paramref name="id"/> and tells the agent to stop working on it.</summary>
    public void Abandon(uint id, CancellationToken cancellationToken)
    {
        if (!_calls.TryRemove(id, out var call))
        {
            return;
        }

        call.OnError(new OperationCanceledException(cancellationToken));
        if (_failure is null)
        {
            _ = SendCancelAsync(id);
        }
    }

    private async Task SendCancelAsync(uint id)
    {
        try
        {
            await _sender.SendAsync(FrameType.Cancel, id, null, _lifetime.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AgentException or OperationCanceledException)
        {
            // The connection is going away; the agent cancels everything of a dead connection anyway.
        }
    }

    private uint Register(PendingCall call)
    {
        var id = unchecked((uint)Interlocked.Increment(ref _nextCallId));
        _calls[id] = call;
        if (_failure is { } failure)
        {
            _calls.TryRemove(id, out _);
            throw failure;
        }

        return id;
    }

    private async Task SendRequestAsync(uint id, Request request, CancellationToken cancellationToken)
    {
        try
        {
            await _sender.SendAsync(FrameType.Request, id, request, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _calls.TryRemove(id, out _);
            throw;
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(_lifetime.Token).ConfigureAwait(false);
                switch (result.Status)
                {
                    case FrameReadStatus.Completed:
                        Fail(new AgentException(AgentErrorKind.Unavailable, $"agent {_options.Name} closed the connection"));
                        return;
                    case FrameReadStatus.Corrupt:
                        Fail(new AgentException(AgentErrorKind.Unavailable, $"protocol error from agent {_options.Name}: {result.Error}"));
                        return;
                    default:
                        Dispatch(result.Header, result.Payload);
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
            Fail(new AgentException(AgentErrorKind.Unavailable, $"the connection to agent {_options.Name} was closed"));
        }
        catch (Exception e) when (e is not AgentException)
        {
            Fail(new AgentException(AgentErrorKind.Unavailable, $"reading from agent {_options.Name} failed: {e.Message}", e));
        }
        catch (AgentException e)
        {
            Fail(e);
        }
    }

    private async Task KeepAliveAsync()
    {
        using var timer = new PeriodicTimer(_options.KeepAliveInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_lifetime.Token).ConfigureAwait(false))
            {
                if (_calls.IsEmpty)
                {
                    // Idle: the next call finds out whether the agent is still there.
                    continue;
                }

                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
                deadline.CancelAfter(_options.KeepAliveTimeout);
                try
                {
                    await CallAsync(new Request { Ping = new PingRequest() }, deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
                {
                    Fail(new AgentException(
                        AgentErrorKind.Unavailable,
                        $"agent {_options.Name} did not answer a keepalive ping within {_options.KeepAliveTimeout.TotalSeconds:0.#}s"));
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or AgentException)
        {
            // The connection is gone; Fail already told the callers.
        }
    }

    private void Dispatch(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        switch (header.Type)
        {
            case FrameType.Response when _calls.TryRemove(header.CallId, out var call):
                call.OnResponse(Parse(Response.Parser, payload));
                break;
            case FrameType.StreamData when _calls.TryGetValue(header.CallId, out var call):
                call.OnItem(Parse(StreamItem.Parser, payload));
                break;
            case FrameType.StreamEnd when _calls.TryRemove(header.CallId, out var call):
                call.OnEnd();
                break;
            case FrameType.Error when header.CallId == 0:
                var error = Parse(Error.Parser, payload);
                throw new AgentException(
                    AgentException.FromWireKind(error.Kind), $"agent {_options.Name} dropped the connection: {error.Message}");
            case FrameType.Error when _calls.TryRemove(header.CallId, out var call):
                call.OnError(AgentException.FromWire(Parse(Error.Parser, payload)));
                break;
            case FrameType.Response or FrameType.StreamData or FrameType.StreamEnd or FrameType.Error:
                // A call this host already abandoned.
                break;
            default:
                throw new AgentException(AgentErrorKind.Internal, $"agent {_options.Name} sent an unexpected {header.Type} frame");
        }
    }

    private T Parse<T>(MessageParser<T> parser, ReadOnlySequence<byte> payload)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new AgentException(AgentErrorKind.Internal, $"agent {_options.Name} sent a malformed {typeof(T).Name}: {e.Message}", e);
        }
    }

    private void Fail(AgentException failure)
    {
        if (_failure is not null)
        {
            return;
        }

        _failure = failure;
        AgentClientLog.ConnectionLost(_logger, _options.Name, failure.Message);
        foreach (var id in _calls.Keys)
        {
            if (_calls.TryRemove(id, out var call))
            {
                call.OnError(failure);
            }
        }

        _lifetime.Cancel();
    }

    public async ValueTask DisposeAsync()
    {
        if (_failure is null)
        {
            _failure = new AgentException(AgentErrorKind.Unavailable, $"the connection to agent {_options.Name} was closed");
            foreach (var id in _calls.Keys)
            {
                if (_calls.TryRemove(id, out var call))
                {
                    call.OnError(_failure);
                }
            }
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        try
        {
            await _readLoop.ConfigureAwait(false);
            await _keepAlive.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Shutting down.
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
        _reader.Dispose();
        _sender.Dispose();
        _lifetime.Dispose();
    }
}
