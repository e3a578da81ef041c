using System.Buffers;
using System.IO.Pipelines;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Agent.Protocol.Framing;
using LightVM.Agent.Protocol.Server;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Agent.Tests.Protocol;

public sealed class ClientSessionTests : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly CancellationTokenSource _stop = new();
    private readonly FakeAgentService _service = new();
    private readonly List<Task> _sessions = [];

    private void StartGuest(InMemoryLink link, AgentServerOptions? options = null)
    {
        var session = new AgentServerSession(_service, options ?? new AgentServerOptions { AgentVersion = "test" }, NullLogger.Instance);
        var run = session.RunAsync(link.GuestSide, _stop.Token);
        _sessions.Add(run);
    }

    private static AgentClient Client(Func<CancellationToken, ValueTask<Stream>> connect, AgentClientOptions? options = null) =>
        new(connect, options ?? new AgentClientOptions { Name = "vm-test", HandshakeTimeout = TimeSpan.FromSeconds(5) });

    private static async Task WriteFrameAsync(PipeWriter writer, FrameType type, uint callId, Google.Protobuf.IMessage? message)
    {
        FrameWriter.Write(writer, type, callId, message, AgentProtocol.DefaultMaxFrameBytes);
        await writer.FlushAsync();
    }

    [Fact]
    public async Task Calls_ManyConcurrentWhileOneBlocks_AllCompleteIndependently()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var blocked = client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, default);
        await _service.WaitStarted.Task.WaitAsync(Timeout);
        var pings = Enumerable.Range(1, 50)
            .Select(i => client.PingAsync(new PingRequest { Nonce = (ulong)i }, default))
            .ToArray();
        var answers = await Task.WhenAll(pings).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(1, 50).Select(i => (ulong)i), answers.Select(a => a.Nonce));
        Assert.False(blocked.IsCompleted);
        _service.Gate.SetResult();
        Assert.Equal(7, (await blocked.WaitAsync(Timeout)).Status.ExitCode);
    }

    [Fact]
    public async Task ReadOutput_TwoStreamsAtOnceWithSmallWindow_EachGetsItsBytesInOrderWithinCredit()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        var a = new byte[300_000];
        var b = new byte[200_000];
        new Random(1).NextBytes(a);
        new Random(2).NextBytes(b);
        _service.Output["a"] = a;
        _service.Output["b"] = b;
        _service.RecordBytes = 3000;
        var options = new AgentClientOptions { Name = "vm-test", OutputWindowBytes = 8192 };
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()), options);

        async Task<byte[]> ReadAll(string id)
        {
            var received = new MemoryStream();
            await foreach (var record in client.ReadOutputAsync(id, 0, default))
            {
                Assert.Equal((ulong)received.Length, record.Offset);
                received.Write(record.Data.Span);
            }

            return received.ToArray();
        }

        var results = await Task.WhenAll(ReadAll("a"), ReadAll("b")).WaitAsync(Timeout);

        Assert.Equal(a, results[0]);
        Assert.Equal(b, results[1]);
        Assert.Equal(0, _service.CreditOverruns);
        lock (_service.Acks)
        {
            // Consumed output is acknowledged while streaming (the last ack may race the end of the stream).
            Assert.Contains(_service.Acks, ack => ack > 100_000);
            Assert.All(_service.Acks, ack => Assert.True(ack <= (ulong)a.Length));
        }
    }

    [Fact]
    public async Task ReadOutput_FromOffset_StartsThere()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        _service.Output["a"] = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var records = new List<OutputRecord>();
        await foreach (var record in client.ReadOutputAsync("a", 4500, default))
        {
            records.Add(record);
        }

        Assert.Equal(4500UL, records[0].Offset);
        Assert.Equal(500, records.Sum(r => r.Data.Length));
    }

    [Fact]
    public async Task Call_GuestThrowsAgentException_SurfacesKindAndMessage()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var error = await Assert.ThrowsAsync<AgentException>(() => client.RemoveContainerAsync(new RemoveContainerRequest { Id = "nope" }, default));
        Assert.Equal(AgentErrorKind.NotFound, error.Kind);
        Assert.Equal("container nope not found", error.Message);

        var crash = await Assert.ThrowsAsync<AgentException>(() => client.CreateContainerAsync(new CreateContainerRequest(), default));
        Assert.Equal(AgentErrorKind.Internal, crash.Kind);
        Assert.Contains("boom", crash.Message, StringComparison.Ordinal);

        // The connection is still good.
        Assert.Equal(5UL, (await client.PingAsync(new PingRequest { Nonce = 5 }, default)).Nonce);
    }

    [Fact]
    public async Task Call_CancelledByHost_GuestHandlerIsCancelled()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));
        using var cancel = new CancellationTokenSource();

        var waiting = client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, cancel.Token);
        await _service.WaitStarted.Task.WaitAsync(Timeout);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        await _service.WaitCancelled.Task.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Call_RequestOverMaxFrame_ThrowsInvalidArgumentAndConnectionSurvives()
    {
        var link = new InMemoryLink();
        StartGuest(link, new AgentServerOptions { AgentVersion = "test", MaxFrameBytes = 16_384 });
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var request = new CreateContainerRequest { Id = "c1" };
        request.Env.Add(new string('e', 20_000));
        var error = await Assert.ThrowsAsync<AgentException>(() => client.CreateContainerAsync(request, default));

        Assert.Equal(AgentErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("16384", error.Message, StringComparison.Ordinal);
        Assert.Equal(1UL, (await client.PingAsync(new PingRequest { Nonce = 1 }, default)).Nonce);
    }

    [Fact]
    public async Task Session_OversizedFrameFromHost_AnswersConnectionErrorNamingTheLimit()
    {
        var link = new InMemoryLink();
        StartGuest(link, new AgentServerOptions { AgentVersion = "test", MaxFrameBytes = 16_384 });
        var host = new FrameReader(link.ToHost.Reader, AgentProtocol.DefaultMaxFrameBytes, false, System.Threading.Timeout.InfiniteTimeSpan);
        await WriteFrameAsync(link.ToGuest.Writer, FrameType.Hello, 0, new Hello { ProtocolVersion = AgentProtocol.Version, Nonce = 1 });
        Assert.Equal(FrameType.HelloAck, (await host.ReadAsync(default)).Header.Type);

        var request = new Request { CreateContainer = new CreateContainerRequest { Id = new string('x', 20_000) } };
        await WriteFrameAsync(link.ToGuest.Writer, FrameType.Request, 1, request);

        var answer = await host.ReadAsync(default).AsTask().WaitAsync(Timeout);
        Assert.Equal((FrameType.Error, 0u), (answer.Header.Type, answer.Header.CallId));
        Assert.Contains("exceeds the maximum of 16384 bytes", Error.Parser.ParseFrom(answer.Payload).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_HostSpeaksOtherVersion_GuestRefusesNamingBothVersions()
    {
        var link = new InMemoryLink();
        StartGuest(link);
        var host = new FrameReader(link.ToHost.Reader, AgentProtocol.DefaultMaxFrameBytes, false, System.Threading.Timeout.InfiniteTimeSpan);

        await WriteFrameAsync(link.ToGuest.Writer, FrameType.Hello, 0, new Hello { ProtocolVersion = 99, HostVersion = "9.9", Nonce = 3 });

        var answer = await host.ReadAsync(default).AsTask().WaitAsync(Timeout);
        var ack = HelloAck.Parser.ParseFrom(answer.Payload);
        Assert.Equal(AgentProtocol.Version, ack.ProtocolVersion);
        Assert.Contains("v99", ack.Error, StringComparison.Ordinal);
        Assert.Contains($"v{AgentProtocol.Version}", ack.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Handshake_AgentSpeaksOtherVersion_ClientThrowsFailedPrecondition()
    {
        var link = new InMemoryLink();
        var guest = Task.Run(async () =>
        {
            var reader = new FrameReader(link.ToGuest.Reader, AgentProtocol.DefaultMaxFrameBytes, false, System.Threading.Timeout.InfiniteTimeSpan);
            var hello = Hello.Parser.ParseFrom((await reader.ReadAsync(default)).Payload);
            await WriteFrameAsync(link.ToHost.Writer, FrameType.HelloAck, 0, new HelloAck { ProtocolVersion = 2, AgentVersion = "0.2.0", Nonce = hello.Nonce });
        });
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var error = await Assert.ThrowsAsync<AgentException>(() => client.PingAsync(new PingRequest(), default));

        Assert.Equal(AgentErrorKind.FailedPrecondition, error.Kind);
        Assert.Contains("v2 (agent 0.2.0)", error.Message, StringComparison.Ordinal);
        Assert.Contains($"speaks v{AgentProtocol.Version}", error.Message, StringComparison.Ordinal);
        await guest;
    }

    [Fact]
    public async Task Handshake_StaleBytesBeforeAck_AreSkipped()
    {
        var link = new InMemoryLink();

        // The tail of a frame the agent was writing to a previous host, then an answer to someone else's hello.
        var stale = new ArrayBufferWriter<byte>();
        FrameWriter.Write(stale, FrameType.StreamData, 3, new StreamItem { Output = new OutputChunk() }, AgentProtocol.DefaultMaxFrameBytes);
        await link.ToHost.Writer.WriteAsync(stale.WrittenMemory[7..]);
        await WriteFrameAsync(link.ToHost.Writer, FrameType.HelloAck, 0, new HelloAck { ProtocolVersion = AgentProtocol.Version, Nonce = 12345 });
        StartGuest(link);
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()));

        var ack = await client.ConnectAsync(default);

        Assert.Equal("test", ack.AgentVersion);
        Assert.Equal(9UL, (await client.PingAsync(new PingRequest { Nonce = 9 }, default)).Nonce);
    }

    [Fact]
    public async Task Reconnect_HostDiesMidFrameOnTransportWithoutDisconnect_NewHostIsServed()
    {
        var link = new InMemoryLink();
        StartGuest(link, new AgentServerOptions { AgentVersion = "test", StallTimeout = TimeSpan.FromMilliseconds(300) });

        // Host 1 connects, then dies halfway through writing a request.
        await using (var first = Client(_ => ValueTask.FromResult(link.OpenHostStream())))
        {
            Assert.Equal(1UL, (await first.PingAsync(new PingRequest { Nonce = 1 }, default)).Nonce);
        }

        var request = new ArrayBufferWriter<byte>();
        FrameWriter.Write(request, FrameType.Request, 77, new Request { ExecSync = new ExecSyncRequest { Id = new string('x', 8000) } }, AgentProtocol.DefaultMaxFrameBytes);
        await link.ToGuest.Writer.WriteAsync(request.WrittenMemory[..2000]);

        // Host 2 reuses the same byte stream; its hello first lands inside the dead frame.
        await using var second = Client(_ => ValueTask.FromResult(link.OpenHostStream()));
        Assert.Equal(2UL, (await second.PingAsync(new PingRequest { Nonce = 2 }, default).WaitAsync(Timeout)).Nonce);
    }

    [Fact]
    public async Task Reconnect_ConnectionDrops_PendingCallsFailUnavailableAndNextCallReconnects()
    {
        var links = new List<InMemoryLink>();
        await using var client = Client(_ =>
        {
            var link = new InMemoryLink();
            links.Add(link);
            StartGuest(link);
            return ValueTask.FromResult(link.OpenHostStream(closeOnDispose: true));
        });
        var waiting = client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, default);
        await _service.WaitStarted.Task.WaitAsync(Timeout);

        // The guest side of the first link goes away.
        await links[0].ToHost.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<AgentException>(() => waiting.WaitAsync(Timeout));
        Assert.Equal(AgentErrorKind.Unavailable, error.Kind);
        Assert.Equal(4UL, (await client.PingAsync(new PingRequest { Nonce = 4 }, default)).Nonce);
        Assert.Equal(2, links.Count);
    }

    [Fact]
    public async Task Reconnect_AgentRestartsUnderOpenConnection_PendingCallFailsAndNextCallReconnects()
    {
        var link = new InMemoryLink();
        using var firstAgent = new CancellationTokenSource();
        var first = new AgentServerSession(_service, new AgentServerOptions { AgentVersion = "test", InstanceId = "one" }, NullLogger.Instance)
            .RunAsync(new InMemoryLinkView(link), firstAgent.Token);
        var options = new AgentClientOptions { Name = "vm-test", KeepAliveInterval = TimeSpan.FromMilliseconds(200) };
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()), options);
        var waiting = client.WaitContainerAsync(new WaitContainerRequest { Id = "c1" }, default);
        await _service.WaitStarted.Task.WaitAsync(Timeout);

        // The agent dies and a new one starts on the same byte stream (a virtio port stays connected meanwhile).
        await firstAgent.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        var second = new AgentServerSession(_service, new AgentServerOptions { AgentVersion = "test", InstanceId = "two" }, NullLogger.Instance);
        _sessions.Add(second.RunAsync(new InMemoryLinkView(link), _stop.Token));

        var error = await Assert.ThrowsAsync<AgentException>(() => waiting.WaitAsync(Timeout));
        Assert.Equal(AgentErrorKind.Unavailable, error.Kind);
        Assert.Contains("no session", error.Message, StringComparison.Ordinal);
        Assert.Equal(6UL, (await client.PingAsync(new PingRequest { Nonce = 6 }, default).WaitAsync(Timeout)).Nonce);
        Assert.Equal("two", client.AgentInstanceId);
    }

    [Fact]
    public async Task Connect_DelegateThrows_UnavailableNamingTheVm()
    {
        await using var client = Client(_ => throw new IOException("socket not found"));

        var error = await Assert.ThrowsAsync<AgentException>(() => client.PingAsync(new PingRequest(), default));

        Assert.Equal(AgentErrorKind.Unavailable, error.Kind);
        Assert.Contains("vm-test", error.Message, StringComparison.Ordinal);
        Assert.Contains("socket not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_PeerNeverAnswers_UnavailableAfterHandshakeTimeout()
    {
        var link = new InMemoryLink();
        var options = new AgentClientOptions { Name = "vm-test", HandshakeTimeout = TimeSpan.FromMilliseconds(300) };
        await link.ToHost.Writer.WriteAsync("Linux version 6.1 booting...\n"u8.ToArray());
        await using var client = Client(_ => ValueTask.FromResult(link.OpenHostStream()), options);

        var error = await Assert.ThrowsAsync<AgentException>(() => client.PingAsync(new PingRequest(), default));

        Assert.Equal(AgentErrorKind.Unavailable, error.Kind);
        Assert.Contains("did not answer the handshake", error.Message, StringComparison.Ordinal);
        Assert.Contains("29 bytes of other data", error.Message, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var session in _sessions)
        {
            try
            {
                await session.WaitAsync(Timeout);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }
}
