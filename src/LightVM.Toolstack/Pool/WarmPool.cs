using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Pool;

/// <summary>
/// The warm pool, a decorator over a plain <see cref="IVmBackend"/> (the LightVM "shell daemon"): it keeps
/// <see cref="PoolOptions.Size"/> prepared VMs per shape, hands one out on <see cref="PrepareAsync"/> (a hit) or
/// falls back to a cold prepare (a miss), and refills in this background service with at most
/// <see cref="PoolOptions.RefillConcurrency"/> boots at a time, each started once <see cref="Foreground"/> work has
/// been quiet for <see cref="PoolOptions.RefillQuietMs"/>. Stopping the service stops every waiting VM.
/// </summary>
public sealed class WarmPool : BackgroundService, IVmBackend
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly IVmBackend _inner;
    private readonly PoolOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<VmShape, ShapeSlot> _slots = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _bootSlots;
    private readonly ConcurrentDictionary<Task, bool> _refills = new();
    private volatile bool _draining;

    public WarmPool(IVmBackend inner, PoolOptions options, VmShape defaultShape, ILoggerFactory loggerFactory, ForegroundWork? foreground = null)
    {
        _inner = inner;
        Foreground = foreground ?? new ForegroundWork();
        _options = options;
        _logger = loggerFactory.CreateLogger<WarmPool>();
        _bootSlots = new SemaphoreSlim(options.RefillConcurrency, options.RefillConcurrency);
        if (options.Size > 0)
        {
            foreach (var shape in options.ResolveShapes(defaultShape))
            {
                _slots[shape] = new ShapeSlot(shape, options.Size);
            }
        }
    }

    public bool Enabled => _options.Size > 0;

    /// <summary>The latency-critical work refills wait for; the runtime marks pod and container starts in it.</summary>
    public ForegroundWork Foreground { get; }

    /// <summary>Per-shape state: warm shapes first, then shapes only seen as misses.</summary>
    public IReadOnlyList<PoolShapeCounters> GetCounters() =>
        [.. _slots.Values.Select(s => s.Snapshot()).OrderByDescending(c => c.Target).ThenBy(c => c.Shape.MemoryMib).ThenBy(c => c.Shape.Vcpus)];

    public async Task<IVm> PrepareAsync(VmShape shape, CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return await _inner.PrepareAsync(shape, cancellationToken).ConfigureAwait(false);
        }

        var slot = _slots.GetOrAdd(shape, s => new ShapeSlot(s, 0));
        while (true)
        {
            IVm? vm = null;
            lock (slot.Gate)
            {
                if (slot.Ready.Count > 0)
                {
                    vm = slot.Ready.Dequeue();
                    if (vm.State == VmState.Running)
                    {
                        slot.Hits++;
                    }
                }
                else
                {
                    slot.Misses++;
                }
            }

            if (vm is null)
            {
                PoolLog.Miss(_logger, shape);
                Wake();
                return await _inner.PrepareAsync(shape, cancellationToken).ConfigureAwait(false);
            }

            if (vm.State == VmState.Running)
            {
                PoolLog.Hit(_logger, vm.Id, shape);
                Wake();
                return new PooledVm(vm);
            }

            await DropAsync(vm).ConfigureAwait(false);
        }
    }

    public Task WarmUpAsync(CancellationToken cancellationToken) => _inner.WarmUpAsync(cancellationToken);

    public Task<IVm> PrepareInBackgroundAsync(VmShape shape, CancellationToken cancellationToken) =>
        _inner.PrepareInBackgroundAsync(shape, cancellationToken);

    public Task<IVm> RecoverAsync(VmRecord record, CancellationToken cancellationToken) =>
        _inner.RecoverAsync(record, cancellationToken);

    /// <summary>The pool's own VMs were prepared by the inner backend in this process, so they are never orphans.</summary>
    public Task<int> StopOrphansAsync(IReadOnlyCollection<string> keepRunDirectories, CancellationToken cancellationToken) =>
        _inner.StopOrphansAsync(keepRunDirectories, cancellationToken);

    /// <summary>Stops refilling, waits for boots in flight, then stops every VM still waiting in the pool.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(_refills.Keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        var stopped = 0;
        foreach (var slot in _slots.Values)
        {
            while (true)
            {
                IVm? vm;
                lock (slot.Gate)
                {
                    if (!slot.Ready.TryDequeue(out vm))
                    {
                        break;
                    }
                }

                await StopQuietlyAsync(vm).ConfigureAwait(false);
                stopped++;
            }
        }

        PoolLog.Drained(_logger, stopped);
    }

    public override void Dispose()
    {
        _bootSlots.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Before any refill, and with the pool off too: the first pod must not pay for the backend's one-time work.
        try
        {
            await _inner.WarmUpAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
#pragma warning disable CA1031 // Reported again, with its cause, by the first PrepareAsync.
        catch (Exception e)
#pragma warning restore CA1031
        {
            PoolLog.WarmUpFailed(_logger, e.Message);
        }

        if (!Enabled)
        {
            return;
        }

        PoolLog.Started(_logger, _options.Size, string.Join(", ", _slots.Keys), _options.RefillConcurrency);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await SweepAsync().ConfigureAwait(false);
                StartRefills(stoppingToken);
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                tick.CancelAfter(SweepInterval);
                try
                {
                    await _wake.Reader.ReadAsync(tick.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // Periodic sweep.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down; StopAsync drains.
        }
    }

    private void StartRefills(CancellationToken stoppingToken)
    {
        foreach (var slot in _slots.Values)
        {
            int missing;
            lock (slot.Gate)
            {
                if (DateTime.UtcNow < slot.NextAttemptUtc)
                {
                    continue;
                }

                missing = slot.Target - slot.Ready.Count - slot.Refilling;
                slot.Refilling += Math.Max(missing, 0);
            }

            for (var i = 0; i < missing; i++)
            {
                var refill = RefillOneAsync(slot, stoppingToken);
                _refills[refill] = true;
                _ = refill.ContinueWith(t => _refills.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private async Task RefillOneAsync(ShapeSlot slot, CancellationToken stoppingToken)
    {
        IVm? vm = null;
        try
        {
            await _bootSlots.WaitAsync(stoppingToken).ConfigureAwait(false);
            try
            {
                var deferred = await Foreground.WaitForQuietAsync(
                    TimeSpan.FromMilliseconds(_options.RefillQuietMs), TimeSpan.FromMilliseconds(_options.RefillMaxDeferMs), stoppingToken).ConfigureAwait(false);
                if (deferred >= TimeSpan.FromMilliseconds(1))
                {
                    PoolLog.RefillDeferred(_logger, slot.Shape, deferred.TotalMilliseconds, Foreground.Active);
                }

                vm = await _inner.PrepareInBackgroundAsync(slot.Shape, stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                _bootSlots.Release();
            }

            lock (slot.Gate)
            {
                slot.ConsecutiveFailures = 0;
                if (!_draining)
                {
                    slot.Ready.Enqueue(vm);
                    PoolLog.Refilled(_logger, vm.Id, slot.Shape);
                    vm = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
#pragma warning disable CA1031 // A failed refill is counted and retried with backoff; claims fall back to cold boots.
        catch (Exception e)
#pragma warning restore CA1031
        {
            double delay;
            int failures;
            lock (slot.Gate)
            {
                slot.RefillFailures++;
                failures = ++slot.ConsecutiveFailures;
                delay = Math.Min(30, Math.Pow(2, failures - 1));
                slot.NextAttemptUtc = DateTime.UtcNow.AddSeconds(delay);
                slot.LastRefillError = e.Message;
            }

            PoolLog.RefillFailed(_logger, slot.Shape, failures, delay, e.Message);
        }
        finally
        {
            lock (slot.Gate)
            {
                slot.Refilling--;
            }

            Wake();
        }

        if (vm is not null)
        {
            // Finished booting after the drain began.
            await StopQuietlyAsync(vm).ConfigureAwait(false);
        }
    }

    /// <summary>Removes waiting VMs that died (the pool must never hand out a dead VM, nor count it as ready).</summary>
    private async Task SweepAsync()
    {
        foreach (var slot in _slots.Values)
        {
            List<IVm>? dead = null;
            lock (slot.Gate)
            {
                if (slot.Ready.Any(v => v.State != VmState.Running))
                {
                    dead = [.. slot.Ready.Where(v => v.State != VmState.Running)];
                    var alive = slot.Ready.Where(v => v.State == VmState.Running).ToList();
                    slot.Ready.Clear();
                    alive.ForEach(slot.Ready.Enqueue);
                }
            }

            foreach (var vm in dead ?? [])
            {
                await DropAsync(vm).ConfigureAwait(false);
            }
        }
    }

    private async Task DropAsync(IVm vm)
    {
        var reason = vm.Exited.IsCompleted ? (await vm.Exited.ConfigureAwait(false)).Reason : vm.State.ToString();
        PoolLog.DroppedDead(_logger, vm.Id, vm.Shape, reason);
        await StopQuietlyAsync(vm).ConfigureAwait(false);
    }

    private async Task StopQuietlyAsync(IVm vm)
    {
        try
        {
            await vm.StopAsync(StopTimeout, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Draining continues with the next VM; the failure is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            PoolLog.StopFailed(_logger, vm.Id, e.Message);
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);
}
