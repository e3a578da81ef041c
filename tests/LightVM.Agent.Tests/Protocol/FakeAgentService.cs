using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Server;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Tests.Protocol;

/// <summary>A scripted guest service: pings echo, WaitContainer blocks on a gate, ReadOutput serves a fixed byte log.</summary>
internal sealed class FakeAgentService : IAgentService
{
    public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource WaitCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource WaitStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The output served by ReadOutput, per container id.</summary>
    public Dictionary<string, byte[]> Output { get; } = [];

    public int RecordBytes { get; set; } = 1000;

    /// <summary>Largest stream item sent beyond the credit the host granted (must stay 0).</summary>
    public int CreditOverruns { get; private set; }

    public List<ulong> Acks { get; } = [];

    public async ValueTask<Response> CallAsync(Request request, CancellationToken cancellationToken)
    {
        switch (request.CallCase)
        {
            case Request.CallOneofCase.Ping:
                return new Response { Ping = new PingResponse { Nonce = request.Ping.Nonce } };
            case Request.CallOneofCase.WaitContainer:
                WaitStarted.TrySetResult();
                try
                {
                    await Gate.Task.WaitAsync(cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    WaitCancelled.TrySetResult();
                    throw;
                }

                return new Response { WaitContainer = new WaitContainerResponse { Status = new ExitStatus { ExitCode = 7 } } };
            case Request.CallOneofCase.RemoveContainer:
                throw new AgentException(AgentErrorKind.NotFound, $"container {request.RemoveContainer.Id} not found");
            case Request.CallOneofCase.CreateContainer:
                throw new InvalidOperationException("boom");
            default:
                throw new AgentException(AgentErrorKind.FailedPrecondition, $"{request.CallCase} is not scripted");
        }
    }

    public async ValueTask StreamAsync(Request request, IStreamSink sink, CancellationToken cancellationToken)
    {
        if (!Output.TryGetValue(request.ReadOutput.Id, out var data))
        {
            throw new AgentException(AgentErrorKind.NotFound, $"container {request.ReadOutput.Id} not found");
        }

        sink.OnAcknowledged(offset =>
        {
            lock (Acks)
            {
                Acks.Add(offset);
            }
        });
        var offset = (int)request.ReadOutput.FromOffset;
        while (offset < data.Length)
        {
            var credit = await sink.WaitForCreditAsync(cancellationToken);
            var count = Math.Min(Math.Min(credit, RecordBytes), data.Length - offset);
            var stream = offset / RecordBytes % 2 == 0 ? OutputStream.Stdout : OutputStream.Stderr;
            var item = new StreamItem { Output = new OutputChunk() };
            item.Output.Records.Add(new OutputRecord
            {
                Stream = stream,
                Offset = (ulong)offset,
                Data = Google.Protobuf.ByteString.CopyFrom(data, offset, count),
            });
            if (count > credit)
            {
                CreditOverruns = Math.Max(CreditOverruns, count - credit);
            }

            await sink.SendAsync(item, count, cancellationToken);
            offset += count;
        }
    }
}
