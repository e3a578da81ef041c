using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

public sealed partial class QemuBackend
{
    /// <summary>
    /// Runs the caller's warm-up once on a fresh agent stream; unlike the probe it is not retried (the agent already
    /// answered, so a failure is real). Bounded by what is left of the boot timeout; a dead VMM is reported with its
    /// console tail.
    /// </summary>
    private static async Task RunWarmUpAsync(QemuVm vm, AgentProbe warmUp, BootLimit limit, TimeSpan remaining, CancellationToken cancellationToken)
    {
        const string step = "warm up the guest";
        using var deadline = Deadline(remaining, cancellationToken);
        try
        {
            if (await RunOnAgentStreamAsync(vm, warmUp, deadline.Token).ConfigureAwait(false))
            {
                return;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw TimedOut(vm, step, $"not done within {limit}");
        }
        catch (Exception e) when (e is not OperationCanceledException and not ToolstackException)
        {
            // If the VMM died meanwhile, its exit reason (below) is the better message.
            if (!vm.Exited.IsCompleted)
            {
                throw new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {vm.Id}: {step}: {e.Message}", e);
            }
        }

        throw await ExitedAsync(vm, step).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the caller's probe on fresh agent streams until it succeeds, the VMM dies (then the console tail says
    /// why) or <paramref name="remaining"/> runs out.
    /// </summary>
    private async Task WaitForAgentAsync(QemuVm vm, BootLimit limit, TimeSpan remaining, CancellationToken cancellationToken)
    {
        const string step = "wait for the agent";
        using var deadline = Deadline(remaining, cancellationToken);
        while (true)
        {
            Exception? failure = null;
            try
            {
                if (await RunOnAgentStreamAsync(vm, _probe, deadline.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(vm, step, $"not ready within {limit}");
            }
#pragma warning disable CA1031 // Whatever the probe throws means "not yet"; the deadline bounds the retries.
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
                failure = e;
            }

            if (vm.Exited.IsCompleted)
            {
                throw await ExitedAsync(vm, step).ConfigureAwait(false);
            }

            if (failure is not null && _logger.IsEnabled(LogLevel.Debug))
            {
                ToolstackLog.ProbeRetry(_logger, vm.Id, failure.Message);
            }

            try
            {
                await Task.Delay(50, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(vm, step, $"not ready within {limit}");
            }
        }
    }

    /// <summary>
    /// One run of <paramref name="call"/> on a fresh agent stream: true once it succeeded, false if the VMM exited
    /// first. The call's own failure propagates.
    /// </summary>
    private static async Task<bool> RunOnAgentStreamAsync(QemuVm vm, AgentProbe call, CancellationToken cancellationToken)
    {
        var stream = await vm.OpenAgentStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var run = call(stream, cancellationToken);
            if (await Task.WhenAny(run, vm.Exited).ConfigureAwait(false) != run)
            {
                return false;
            }

            await run.ConfigureAwait(false);
            return true;
        }
    }

    private static CancellationTokenSource Deadline(TimeSpan remaining, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1));
        return deadline;
    }

    /// <summary>How long a boot may take, and the setting that says so (named in a timeout's message).</summary>
    private readonly record struct BootLimit(TimeSpan Time, string Setting)
    {
        public override string ToString() => $"{Time.TotalSeconds:0} s ({Setting})";
    }

    private static ToolstackException TimedOut(QemuVm vm, string step, string what) =>
        new(ToolstackErrorKind.DeadlineExceeded, $"VM {vm.Id}: {step}: {what}; console: {vm.Paths.ConsoleTail()}");

    private static async Task<ToolstackException> ExitedAsync(QemuVm vm, string step)
    {
        var exit = await vm.Exited.ConfigureAwait(false);
        return new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {vm.Id}: {step}: {exit.Reason}; console: {vm.Paths.ConsoleTail()}");
    }
}
