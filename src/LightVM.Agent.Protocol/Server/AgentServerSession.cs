using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using Google.Protobuf;
using LightVM.Agent.Protocol.Framing;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Protocol.Server;

/// <summary>
/// The guest side of one byte stream to the host. Waits for a Hello, answers it, then serves requests
/// concurrently until the stream ends. A Hello in the middle (a host that reconnected on a transport that did not
/// report the disconnect) or corrupt input starts over: the calls of the old host are cancelled and their late
/// answers are dropped, never written after the new handshake. Containers and output live in the service, not
/// here, so nothing is lost.
/// </summary>
public sealed class AgentServerSession
{
    private readonly IAgentService _service;
    private readonly AgentServerOptions _options;
    private readonly ILogger _logger;

    public AgentServerSession(IAgentService service, AgentServerOptions options, ILogger logger)
    {
        _service = service;
        _options = options;
        _logger = logger;
    }

    /// <summary>Serves <paramref name="pipe"/> until it ends or <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(IDuplexPipe pipe, CancellationToken cancellationToken)
    {
        using var reader = new FrameReader(pipe.Input, _options.MaxFrameBytes, resync: true, _options.StallTimeout);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sender = new FrameSender(pipe.Output, AgentProtocol.MinMaxFrameBytes, lifetime.Token);
        reader.HuntAny();
        Epoch? epoch = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.Status == FrameReadStatus.Completed)
                {
                    return;
                }

                if (result.Status == FrameReadStatus.Corrupt)
                {
                    AgentServerLog.CorruptInput(_logger, result.Error ?? "unknown");
                    epoch?.End();
                    epoch = null;

                    // Tell a live host why; a dead one does not read it, and a new one skips it while hunting.
                    await TrySendAsync(sender, FrameType.Error, 0, new Error { Kind = ErrorKind.InvalidArgument, Message = result.Error }, lifetime.Token)
                        .ConfigureAwait(false);
                    continue;
                }

                if (result.Header.Type == FrameType.Hello)
                {
                    epoch?.End();
                    var discarded = reader.DiscardedBytes;
                    epoch = await HandshakeAsync(sender, result.Payload, discarded, lifetime.Token).ConfigureAwait(false);
                    if (epoch is null)
                    {
                        reader.HuntAny();
                    }

                    continue;
                }

                if (epoch is null)
                {
                    // A host that believes it has a session this agent does not know (the agent restarted under an
                    // open connection, or the stream lost sync): make it reconnect instead of waiting forever.
                    var noSession = new Error
                    {
                        Kind = ErrorKind.Unavailable,
                        Message = $"agent {_options.AgentVersion} (instance {_options.InstanceId}) has no session on this connection; reconnect with a hello",
                    };
                    await TrySendAsync(sender, FrameType.Error, 0, noSession, lifetime.Token).ConfigureAwait(false);
                    reader.HuntAny();
                    continue;
                }

                epoch.Dispatch(result.Header, result.Payload);
            }
        }
        finally
        {
            var cancelled = epoch?.End() ?? 0;
            AgentServerLog.SessionEnded(_logger, cancelled);
            await lifetime.CancelAsync().ConfigureAwait(false);
            await sender.CompleteAsync().ConfigureAwait(false);
            await pipe.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task<Epoch?> HandshakeAsync(FrameSender sender, ReadOnlySequence<byte> payload, long discarded, CancellationToken lifetime)
    {
        Hello hello;
        try
        {
            hello = Hello.Parser.ParseFrom(payload);
        }
        catch (InvalidProtocolBufferException e)
        {
            AgentServerLog.HostRefused(_logger, $"malformed hello: {e.Message}");
            return null;
        }

        var ack = new HelloAck
        {
            ProtocolVersion = AgentProtocol.Version,
            AgentVersion = _options.AgentVersion,
            Nonce = hello.Nonce,
            MaxFrameBytes = (uint)_options.MaxFrameBytes,
            AgentInstanceId = _options.InstanceId,
        };
        if (hello.ProtocolVersion != AgentProtocol.Version)
        {
            ack.Error = $"protocol version mismatch: host {hello.HostVersion} speaks v{hello.ProtocolVersion}, " +
                        $"agent {_options.AgentVersion} speaks v{AgentProtocol.Version}";
            AgentServerLog.HostRefused(_logger, ack.Error);
            sender.MaxPayload = AgentProtocol.MinMaxFrameBytes;
            await TrySendAsync(sender, FrameType.HelloAck, 0, ack, lifetime).ConfigureAwait(false);
            return null;
        }

        sender.MaxPayload = (int)Math.Clamp(hello.MaxFrameBytes, AgentProtocol.MinMaxFrameBytes, (uint)int.MaxValue);
        var epoch = new Epoch(this, sender, lifetime);
        await TrySendAsync(sender, FrameType.HelloAck, 0, ack, lifetime).ConfigureAwait(false);
        AgentServerLog.HostConnected(_logger, hello.HostVersion, hello.ProtocolVersion, discarded);
        return epoch;
    }

    private static async Task TrySendAsync(FrameSender sender, FrameType type, uint callId, IMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await sender.SendAsync(type, callId, message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AgentException or OperationCanceledException)
        {
            // The host is gone; nobody to tell.
        }
    }

    /// <summary>The calls of one handshake. Ending it cancels them and mutes their answers.</summary>
    private sealed class Epoch
    {
        private readonly AgentServerSession _session;
        private readonly FrameSender _sender;
        private readonly CancellationTokenSource _cancellation;
        private readonly ConcurrentDictionary<uint, ServerCall> _calls = new();

        public Epoch(AgentServerSession session, FrameSender sender, CancellationToken lifetime)
        {
            _session = session;
            _sender = sender;
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        }

        public int End()
        {
            var count = _calls.Count;
            _cancellation.Cancel();
            return count;
        }

        public void Dispatch(FrameHeader header, ReadOnlySequence<byte> payload)
        {
            switch (header.Type)
            {
                case FrameType.Request:
                    Request request;
                    try
                    {
                        request = Request.Parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException e)
                    {
                        _ = RespondErrorAsync(header.CallId, new AgentException(AgentErrorKind.InvalidArgument, $"malformed request: {e.Message}"));
                        return;
                    }

                    var call = new ServerCall(header.CallId, _sender, _cancellation.Token);
                    if (!_calls.TryAdd(header.CallId, call))
                    {
                        call.Dispose();
                        _ = RespondErrorAsync(header.CallId, new AgentException(AgentErrorKind.InvalidArgument, $"call id {header.CallId} is already in use"));
                        return;
                    }

                    _ = Task.Run(() => RunAsync(call, request));
                    break;
                case FrameType.Cancel when _calls.TryGetValue(header.CallId, out var cancelled):
                    cancelled.Cancel();
                    break;
                case FrameType.Window when _calls.TryGetValue(header.CallId, out var streaming):
                    WindowUpdate update;
                    try
                    {
                        update = WindowUpdate.Parser.ParseFrom(payload);
                    }
                    catch (InvalidProtocolBufferException)
                    {
                        return;
                    }

                    streaming.Grant(update.CreditBytes, update.HasAckOffset ? update.AckOffset : null);
                    break;
                default:
                    // Cancel or window for a finished call, or a frame type the host never sends: nothing to do.
                    break;
            }
        }

        private async Task RunAsync(ServerCall call, Request request)
        {
            var token = call.Cancellation.Token;
            try
            {
                if (request.CallCase == Request.CallOneofCase.None)
                {
                    throw new AgentException(
                        AgentErrorKind.FailedPrecondition,
                        $"agent {_session._options.AgentVersion} does not know this call; the host is newer than the guest image");
                }

                if (AgentProtocol.IsStreaming(request.CallCase))
                {
                    await _session._service.StreamAsync(request, call, token).ConfigureAwait(false);
                    await _sender.SendAsync(FrameType.StreamEnd, call.Id, null, token).ConfigureAwait(false);
                }
                else
                {
                    var response = await _session._service.CallAsync(request, token).ConfigureAwait(false);
                    await _sender.SendAsync(FrameType.Response, call.Id, response, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // The host cancelled the call or went away: nobody waits for an answer.
            }
            catch (AgentException e)
            {
                AgentServerLog.CallFailed(_session._logger, request.CallCase.ToString(), call.Id, e.Kind, e.Message);
                await RespondErrorAsync(call.Id, e).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                AgentServerLog.CallCrashed(_session._logger, e, request.CallCase.ToString());
                await RespondErrorAsync(call.Id, new AgentException(AgentErrorKind.Internal, $"{request.CallCase} failed: {e.Message}")).ConfigureAwait(false);
            }
            finally
            {
                _calls.TryRemove(call.Id, out _);
                call.Dispose();
            }
        }

        private Task RespondErrorAsync(uint callId, AgentException error) =>
            TrySendAsync(_sender, FrameType.Error, callId, error.ToWire(), _cancellation.Token);
    }
}
