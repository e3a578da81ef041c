using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

/// <summary>An asynchronous QMP event such as SHUTDOWN or STOP.</summary>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp);

/// <summary>
/// Our own client for the QEMU Machine Protocol on a unix socket. Messages are JSON objects, one per line; the
/// reader frames them with a <see cref="PipeReader"/> and parses each whole line, never byte by byte. Replies are
/// matched to commands by the <c>id</c> we send; events go to the callback on the reader's task, in order.
/// </summary>
public sealed class QmpClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Action<QmpEvent>? _onEvent;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly CancellationTokenSource _closing = new();
    private TaskCompletionSource<JsonElement>? _greeting = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _readLoop = Task.CompletedTask;
    private long _nextId;

    private QmpClient(Socket socket, string name, Action<QmpEvent>? onEvent, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024));
        _name = name;
        _onEvent = onEvent;
        _logger = logger;
    }

    /// <summary>Completes when the connection is closed by either side (for QEMU: usually because it exited).</summary>
    public Task Completion => _readLoop;

    /// <summary>The QEMU version from the greeting, e.g. <c>7.2.22</c>.</summary>
    public string QemuVersion { get; private set; } = "";

    /// <summary>Connects, reads the greeting and leaves capabilities negotiation mode.</summary>
    /// <param name="name">Names the VM in messages.</param>
    public static async Task<QmpClient> ConnectAsync(
        string socketPath, string name, Action<QmpEvent>? onEvent, ILogger logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        QmpClient? client = null;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            client = new QmpClient(socket, name, onEvent, logger);
            client._readLoop = client.ReadLoopAsync();
            var greeting = await client._greeting!.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            client.QemuVersion = ReadVersion(greeting);
            await client.ExecuteAsync("qmp_capabilities", null, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            throw new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {name}: QMP connect to {socketPath}: {e.Message}", e);
        }
        catch
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                socket.Dispose();
            }

            throw;
        }
    }

    /// <summary>Runs one command and returns its <c>return</c> value.</summary>
    /// <param name="arguments">Serialized as the command's <c>arguments</c> object; null for none.</param>
    public async Task<JsonElement> ExecuteAsync(string command, object? arguments, CancellationToken cancellationToken)
    {
        var id = "c" + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            if (_readLoop.IsCompleted)
            {
                throw Closed(command);
            }

            var buffer = new ArrayBufferWriter<byte>(256);
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("execute"u8, command);
                if (arguments is not null)
                {
                    writer.WritePropertyName("arguments"u8);
                    JsonSerializer.Serialize(writer, arguments, arguments.GetType());
                }

                writer.WriteString("id"u8, id);
                writer.WriteEndObject();
            }

            buffer.Write("\n"u8);
            await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {_name}: QMP {command}: {e.Message}", e);
            }
            finally
            {
                _writeLock.Release();
            }

            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>The run state from <c>query-status</c>, e.g. <c>running</c>, <c>paused</c>, <c>prelaunch</c>.</summary>
    public async Task<string> QueryStatusAsync(CancellationToken cancellationToken)
    {
        var result = await ExecuteAsync("query-status", null, cancellationToken).ConfigureAwait(false);
        return result.TryGetProperty("status", out var status) ? status.GetString() ?? "" : "";
    }

    /// <summary>Asks QEMU to exit. The connection may drop before the reply; that counts as success.</summary>
    public async Task QuitAsync(CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync("quit", null, cancellationToken).ConfigureAwait(false);
        }
        catch (ToolstackException e) when (e.Kind == ToolstackErrorKind.Unavailable)
        {
            // QEMU closed the socket while exiting.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_closing.IsCancellationRequested)
        {
            await _closing.CancelAsync().ConfigureAwait(false);
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already disconnected.
        }

        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Closing.
        }

        await _reader.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
        _writeLock.Dispose();
        _closing.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        Exception? failure = null;
        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(_closing.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                while (TryReadLine(ref buffer, out var line))
                {
                    Dispatch(line);
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // DisposeAsync.
        }
        catch (IOException e)
        {
            failure = e;
        }
        catch (JsonException e)
        {
            QmpLog.BadMessage(_logger, _name, e.Message);
            failure = e;
        }

        var closed = Closed("(pending)", failure);
        _greeting?.TrySetException(closed);
        foreach (var pending in _pending.Values)
        {
            pending.TrySetException(closed);
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return true;
    }

    private void Dispatch(ReadOnlySequence<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        if (!JsonDocument.TryParseValue(ref reader, out var document))
        {
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            if (root.TryGetProperty("QMP"u8, out var greeting))
            {
                _greeting?.TrySetResult(greeting.Clone());
                _greeting = null;
            }
            else if (root.TryGetProperty("event"u8, out var name))
            {
                var data = root.TryGetProperty("data"u8, out var d) ? d.Clone() : default;
                OnEvent(new QmpEvent(name.GetString() ?? "", data, ReadTimestamp(root)));
            }
            else if (root.TryGetProperty("id"u8, out var idElement) && idElement.ValueKind == JsonValueKind.String &&
                     _pending.TryGetValue(idElement.GetString()!, out var reply))
            {
                if (root.TryGetProperty("return"u8, out var value))
                {
                    reply.TrySetResult(value.Clone());
                }
                else if (root.TryGetProperty("error"u8, out var error))
                {
                    var errorClass = error.TryGetProperty("class"u8, out var c) ? c.GetString() : "?";
                    var desc = error.TryGetProperty("desc"u8, out var m) ? m.GetString() : "?";
                    reply.TrySetException(new ToolstackException(
                        ToolstackErrorKind.Internal, $"VM {_name}: QMP command failed: {errorClass}: {desc}"));
                }
            }
        }
    }

    private void OnEvent(QmpEvent qmpEvent)
    {
        QmpLog.Event(_logger, _name, qmpEvent.Name);
        try
        {
            _onEvent?.Invoke(qmpEvent);
        }
#pragma warning disable CA1031 // A faulty handler must not stop the reader; it is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            QmpLog.EventHandlerFailed(_logger, _name, qmpEvent.Name, e);
        }
    }

    private static DateTimeOffset ReadTimestamp(JsonElement root)
    {
        if (root.TryGetProperty("timestamp"u8, out var ts) &&
            ts.TryGetProperty("seconds"u8, out var s) && ts.TryGetProperty("microseconds"u8, out var us) &&
            s.TryGetInt64(out var seconds) && us.TryGetInt64(out var micros))
        {
            return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(micros * 10);
        }

        return DateTimeOffset.UtcNow;
    }

    private static string ReadVersion(JsonElement greeting)
    {
        if (greeting.TryGetProperty("version"u8, out var v) && v.TryGetProperty("qemu"u8, out var q) &&
            q.TryGetProperty("major"u8, out var major) && q.TryGetProperty("minor"u8, out var minor) &&
            q.TryGetProperty("micro"u8, out var micro))
        {
            return $"{major.GetInt32()}.{minor.GetInt32()}.{micro.GetInt32()}";
        }

        return "";
    }

    private ToolstackException Closed(string command, Exception? inner = null) =>
        new(ToolstackErrorKind.Unavailable, $"VM {_name}: QMP {command}: the connection to QEMU is closed", inner);
}
