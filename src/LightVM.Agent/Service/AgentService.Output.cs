using LightVM.Agent.Protocol.Server;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Service;

internal sealed partial class AgentService
{
    /// <summary>Records per stream item: bounds protobuf overhead (at most ~32 bytes each) when output is chatty.</summary>
    private const int MaxRecordsPerItem = 256;

    private const int MaxItemBytes = 64 * 1024;

    private async ValueTask ReadOutputAsync(ReadOutputRequest request, IStreamSink sink, CancellationToken cancellationToken)
    {
        var log = _store.Get(request.Id).Output;
        var offset = (long)request.FromOffset;

        // Reading nothing validates the offset; asking from N then acknowledges everything below N.
        log.Read(offset, 0, 0);
        log.Release(offset);
        sink.OnAcknowledged(ack => log.Release((long)Math.Min(ack, long.MaxValue)));

        var itemBytes = Math.Min(MaxItemBytes, sink.MaxPayload - (MaxRecordsPerItem * 32) - 64);
        while (await log.WaitForDataAsync(offset, cancellationToken).ConfigureAwait(false))
        {
            var credit = await sink.WaitForCreditAsync(cancellationToken).ConfigureAwait(false);
            var (records, bytes) = log.Read(offset, Math.Min(credit, itemBytes), MaxRecordsPerItem);

            var item = new StreamItem { Output = new OutputChunk() };
            item.Output.Records.AddRange(records);
            await sink.SendAsync(item, bytes, cancellationToken).ConfigureAwait(false);
            offset += bytes;
        }
    }
}
