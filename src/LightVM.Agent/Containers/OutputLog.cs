using Google.Protobuf;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Containers;

/// <summary>
/// A container's output not yet acknowledged by the host: stdout and stderr records in one offset space, in the
/// order they were read. Bounded: when full, the pumps stop reading the pipes, the kernel pipe fills and the
/// container's writes block. Nothing is ever dropped; space comes back when the host acknowledges offsets
/// (<see cref="Release"/>), which it does only for output it has consumed, so a host that reconnects can ask again
/// from its last consumed offset and get every byte exactly once.
/// </summary>
internal sealed class OutputLog
{
    private readonly object _gate = new();
    private readonly List<Record> _records = [];
    private readonly string _containerId;
    private readonly int _capacity;
    private long _released;
    private long _end;
    private long _retained;
    private bool _ended;
    private TaskCompletionSource _changed = NewSignal();

    public OutputLog(string containerId, int capacity)
    {
        _containerId = containerId;
        _capacity = capacity;
    }

    /// <summary>The offset the next byte will get.</summary>
    public long EndOffset
    {
        get
        {
            lock (_gate)
            {
                return _end;
            }
        }
    }

    /// <summary>True once both pipes closed: no record will follow.</summary>
    public bool Ended
    {
        get
        {
            lock (_gate)
            {
                return _ended;
            }
        }
    }

    public bool IsFull
    {
        get
        {
            lock (_gate)
            {
                return _retained >= _capacity;
            }
        }
    }

    /// <summary>Waits until the log has room for more output.</summary>
    public async ValueTask WaitForSpaceAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_retained < _capacity)
                {
                    return;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Append(OutputStream stream, ReadOnlySpan<byte> data, long timestampUnixNano)
    {
        lock (_gate)
        {
            _records.Add(new Record(_end, stream, timestampUnixNano, data.ToArray(), 0));
            _end += data.Length;
            _retained += data.Length;
            SignalLocked();
        }
    }

    public void End()
    {
        lock (_gate)
        {
            _ended = true;
            SignalLocked();
        }
    }

    /// <summary>Frees everything below <paramref name="offset"/> (the host has consumed it).</summary>
    public void Release(long offset)
    {
        lock (_gate)
        {
            offset = Math.Min(offset, _end);
            if (offset <= _released)
            {
                return;
            }

            var drop = 0;
            while (drop < _records.Count && _records[drop].EndOffset <= offset)
            {
                _retained -= _records[drop].Length;
                drop++;
            }

            _records.RemoveRange(0, drop);
            if (_records.Count > 0 && _records[0].Offset < offset)
            {
                var first = _records[0];
                var cut = (int)(offset - first.Offset);
                _records[0] = first with { Offset = offset, Start = first.Start + cut };
                _retained -= cut;
            }

            _released = offset;
            SignalLocked();
        }
    }

    /// <summary>Copies out up to <paramref name="maxBytes"/> in up to <paramref name="maxRecords"/> records from <paramref name="from"/>.</summary>
    public (List<OutputRecord> Records, int Bytes) Read(long from, int maxBytes, int maxRecords)
    {
        lock (_gate)
        {
            CheckOffsetLocked(from);
            var records = new List<OutputRecord>();
            var bytes = 0;
            foreach (var record in _records)
            {
                if (record.EndOffset <= from)
                {
                    continue;
                }

                if (bytes >= maxBytes || records.Count >= maxRecords)
                {
                    break;
                }

                var skip = (int)Math.Max(0, from - record.Offset);
                var count = Math.Min(record.Length - skip, maxBytes - bytes);
                records.Add(new OutputRecord
                {
                    Stream = record.Stream,
                    TimestampUnixNano = record.Timestamp,
                    Offset = (ulong)(record.Offset + skip),
                    Data = ByteString.CopyFrom(record.Data, record.Start + skip, count),
                });
                bytes += count;
            }

            return (records, bytes);
        }
    }

    /// <summary>Waits until output at <paramref name="from"/> exists or the output ended; true if there is data.</summary>
    public async ValueTask<bool> WaitForDataAsync(long from, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                CheckOffsetLocked(from);
                if (from < _end)
                {
                    return true;
                }

                if (_ended)
                {
                    return false;
                }

                changed = _changed.Task;
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void CheckOffsetLocked(long from)
    {
        if (from < _released)
        {
            throw new AgentException(
                AgentErrorKind.FailedPrecondition,
                $"output of container {_containerId} below offset {_released} was already acknowledged and released; cannot read from {from}");
        }

        if (from > _end)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument,
                $"offset {from} is beyond the output of container {_containerId} (it ends at {_end})");
        }
    }

    private void SignalLocked()
    {
        var changed = _changed;
        _changed = NewSignal();
        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Bytes Data[Start..] at Offset.</summary>
    private readonly record struct Record(long Offset, OutputStream Stream, long Timestamp, byte[] Data, int Start)
    {
        public int Length => Data.Length - Start;

        public long EndOffset => Offset + Length;
    }
}
