using System.Diagnostics;

namespace LightVM.Toolstack.Pool;

/// <summary>
/// Latency-critical work on this node (a pod or a container starting) that background VM boots should not slow.
/// The runtime wraps such work in <see cref="Begin"/>; the warm pool waits for a quiet moment before it starts a
/// refill boot, so a boot stays off the critical path even on a node with few CPUs (under TCG a boot takes a host
/// core for a second or two, and a container start shares caches and memory bandwidth with it even at a lower
/// priority). A wait is bounded, so a node that is never quiet still refills.
/// </summary>
public sealed class ForegroundWork
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private readonly object _gate = new();
    private int _active;
    private long _lastEnd;

    /// <summary>How many foreground operations are in progress.</summary>
    public int Active
    {
        get
        {
            lock (_gate)
            {
                return _active;
            }
        }
    }

    /// <summary>Marks one operation as in progress until the returned scope is disposed.</summary>
    public IDisposable Begin()
    {
        lock (_gate)
        {
            _active++;
        }

        return new Scope(this);
    }

    /// <summary>
    /// Completes once no operation has been in progress for <paramref name="quiet"/>, or after
    /// <paramref name="maxWait"/> at most. Returns how long it waited.
    /// </summary>
    public async Task<TimeSpan> WaitForQuietAsync(TimeSpan quiet, TimeSpan maxWait, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var waited = Stopwatch.GetElapsedTime(started);
            var remaining = RemainingUntilQuiet(quiet);
            if (remaining <= TimeSpan.Zero || waited >= maxWait)
            {
                return waited;
            }

            var step = remaining < PollInterval ? remaining : PollInterval;
            var left = maxWait - waited;
            await Task.Delay(step < left ? step : left, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Zero when quiet already; otherwise how much longer it must stay idle (a poll step while busy).</summary>
    private TimeSpan RemainingUntilQuiet(TimeSpan quiet)
    {
        lock (_gate)
        {
            if (_active > 0)
            {
                return PollInterval;
            }

            if (_lastEnd == 0)
            {
                return TimeSpan.Zero;
            }

            return quiet - Stopwatch.GetElapsedTime(_lastEnd);
        }
    }

    private void End()
    {
        lock (_gate)
        {
            _active--;
            _lastEnd = Stopwatch.GetTimestamp();
        }
    }

    private sealed class Scope(ForegroundWork owner) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.End();
            }
        }
    }
}
