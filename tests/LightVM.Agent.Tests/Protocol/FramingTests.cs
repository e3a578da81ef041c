using System.Buffers;
using System.IO.Pipelines;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Framing;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Tests.Protocol;

public class FramingTests
{
    private static readonly TimeSpan Infinite = Timeout.InfiniteTimeSpan;

    private static byte[] Encode(FrameType type, uint callId, Google.Protobuf.IMessage? message, int max = AgentProtocol.DefaultMaxFrameBytes)
    {
        var buffer = new ArrayBufferWriter<byte>();
        FrameWriter.Write(buffer, type, callId, message, max);
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task WriteThenRead_SeveralFrames_RoundTripTypeCallIdAndPayload()
    {
        var pipe = new Pipe();
        var ping = new Request { Ping = new PingRequest { Nonce = 42 } };
        FrameWriter.Write(pipe.Writer, FrameType.Request, 7, ping, AgentProtocol.DefaultMaxFrameBytes);
        FrameWriter.Write(pipe.Writer, FrameType.StreamEnd, 9, null, AgentProtocol.DefaultMaxFrameBytes);
        FrameWriter.Write(pipe.Writer, FrameType.Cancel, uint.MaxValue, null, AgentProtocol.DefaultMaxFrameBytes);
        await pipe.Writer.FlushAsync();
        await pipe.Writer.CompleteAsync();

        using var reader = new FrameReader(pipe.Reader, AgentProtocol.DefaultMaxFrameBytes, false, Infinite);
        var first = await reader.ReadAsync(default);
        Assert.Equal(FrameReadStatus.Frame, first.Status);
        Assert.Equal(new FrameHeader(FrameType.Request, 7, ping.CalculateSize()), first.Header);
        Assert.Equal(ping, Request.Parser.ParseFrom(first.Payload));
        var second = await reader.ReadAsync(default);
        Assert.Equal((FrameType.StreamEnd, 9u, 0L), (second.Header.Type, second.Header.CallId, second.Payload.Length));
        var third = await reader.ReadAsync(default);
        Assert.Equal((FrameType.Cancel, uint.MaxValue), (third.Header.Type, third.Header.CallId));
        Assert.Equal(FrameReadStatus.Completed, (await reader.ReadAsync(default)).Status);
        Assert.Equal(0, reader.DiscardedBytes);
    }

    [Fact]
    public async Task Read_FrameArrivingOneByteAtATime_IsReassembled()
    {
        var pipe = new Pipe();
        var item = new StreamItem { Output = new OutputChunk() };
        item.Output.Records.Add(new OutputRecord { Offset = 5, Data = Google.Protobuf.ByteString.CopyFrom(new byte[5000]) });
        var bytes = Encode(FrameType.StreamData, 3, item);
        var writer = Task.Run(async () =>
        {
            foreach (var b in bytes)
            {
                await pipe.Writer.WriteAsync(new[] { b });
            }

            await pipe.Writer.CompleteAsync();
        });

        using var reader = new FrameReader(pipe.Reader, AgentProtocol.DefaultMaxFrameBytes, false, Infinite);
        var result = await reader.ReadAsync(default);
        Assert.Equal(FrameReadStatus.Frame, result.Status);
        Assert.Equal(item, StreamItem.Parser.ParseFrom(result.Payload));
        await writer;
    }

    [Fact]
    public async Task Read_PayloadBitFlipped_ReportsChecksumMismatch()
    {
        var bytes = Encode(FrameType.Request, 1, new Request { Ping = new PingRequest { Nonce = 1 } });
        bytes[FrameHeader.Size] ^= 0x40;
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(bytes);

        using var reader = new FrameReader(pipe.Reader, AgentProtocol.DefaultMaxFrameBytes, false, Infinite);
        var result = await reader.ReadAsync(default);
        Assert.Equal(FrameReadStatus.Corrupt, result.Status);
        Assert.Contains("checksum", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_PayloadOverMaximum_ThrowsInvalidArgumentNamingSizes()
    {
        var big = new Request { ExecSync = new ExecSyncRequest { Id = new string('x', 20_000) } };
        var error = Assert.Throws<AgentException>(() => Encode(FrameType.Request, 1, big, max: 16_384));
        Assert.Equal(AgentErrorKind.InvalidArgument, error.Kind);
        Assert.Contains("16384", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_HeaderClaimsMoreThanMaximum_RefusedWithoutWaitingForPayload()
    {
        var bytes = Encode(FrameType.Request, 1, new Request { ExecSync = new ExecSyncRequest { Id = new string('x', 20_000) } });
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, FrameHeader.Size));

        using var reader = new FrameReader(pipe.Reader, 16_384, true, Infinite);
        var result = await reader.ReadAsync(default).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(FrameReadStatus.Corrupt, result.Status);
        Assert.Contains("exceeds the maximum of 16384", result.Error, StringComparison.Ordinal);
        Assert.True(reader.IsHunting);
    }

    [Fact]
    public async Task Hunt_GarbageAndOtherFramesFirst_ReturnsOnlyTheWantedFrame()
    {
        var pipe = new Pipe();
        var hello = new Hello { ProtocolVersion = AgentProtocol.Version, Nonce = 99 };
        var request = Encode(FrameType.Request, 1, new Request { Ping = new PingRequest() });
        await pipe.Writer.WriteAsync("LVM garbage LVMA more garbage"u8.ToArray());
        await pipe.Writer.WriteAsync(request.AsMemory(0, request.Length - 3));
        await pipe.Writer.WriteAsync(request);
        await pipe.Writer.WriteAsync(Encode(FrameType.Hello, 0, hello));
        await pipe.Writer.WriteAsync(request);
        await pipe.Writer.CompleteAsync();

        using var reader = new FrameReader(pipe.Reader, AgentProtocol.DefaultMaxFrameBytes, false, Infinite);
        reader.Hunt(FrameType.Hello);
        var found = await reader.ReadAsync(default);
        Assert.Equal(FrameType.Hello, found.Header.Type);
        Assert.Equal(99UL, Hello.Parser.ParseFrom(found.Payload).Nonce);
        Assert.False(reader.IsHunting);
        Assert.True(reader.DiscardedBytes > request.Length * 2);
        var next = await reader.ReadAsync(default);
        Assert.Equal(FrameType.Request, next.Header.Type);
    }

    [Fact]
    public async Task Read_PeerStallsMidFrameThenSendsHello_AbandonsPartialFrameAndFindsHello()
    {
        var pipe = new Pipe();
        var partial = Encode(FrameType.Request, 5, new Request { ExecSync = new ExecSyncRequest { Id = new string('x', 5000) } });
        var hello = Encode(FrameType.Hello, 0, new Hello { ProtocolVersion = AgentProtocol.Version, Nonce = 1 });
        await pipe.Writer.WriteAsync(partial.AsMemory(0, 1000));

        // The new peer's hello lands inside what the reader believes is the old frame's payload.
        await pipe.Writer.WriteAsync(hello);

        using var reader = new FrameReader(pipe.Reader, AgentProtocol.DefaultMaxFrameBytes, true, TimeSpan.FromMilliseconds(200));
        var stalled = await reader.ReadAsync(default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(FrameReadStatus.Corrupt, stalled.Status);
        Assert.Contains("incomplete frame", stalled.Error, StringComparison.Ordinal);
        var found = await reader.ReadAsync(default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(FrameReadStatus.Frame, found.Status);
        Assert.Equal(FrameType.Hello, found.Header.Type);
    }
}
