using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

public sealed partial class QemuBackend
{
    /// <summary>
    /// Runs the caller's warm-up once on a fresh agent stream; unlike the probe it is not retried (the agent already
    /// answered, so a failure is real). Bounded by what is left of the boot timeout; a dead VMM is reported with its
    /// console tail.
    /// </summary>
    private static async Task RunWarmUpAsync(QemuVm vm, AgentProbe warmUp, TimeSpan remaining, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1));
        try
        {
            var stream = await vm.OpenAgentStreamAsync(deadline.Token).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var run = warmUp(stream, deadline.Token);
                if (await Task.WhenAny(run, vm.Exited).ConfigureAwait(false) == run)
                {
                    await run.ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ToolstackException(ToolstackErrorKind.DeadlineExceeded,
                $"VM {vm.Id}: warm up the guest: not done within the boot timeout; console: {vm.Paths.ConsoleTail()}");
        }
        catch (Exception e) when (e is not OperationCanceledException and not ToolstackException)
        {
            if (!vm.Exited.IsCompleted)
            {
                throw new ToolstackException(ToolstackErrorKind.Unavailable, $"VM {vm.Id}: warm up the guest: {e.Message}", e);
            }
        }

        var exit = await vm.Exited.ConfigureAwait(false);
        throw new ToolstackException(ToolstackErrorKind.Unavailable,
            $"VM {vm.Id}: warm up the guest: {exit.Reason}; console: {vm.Paths.ConsoleTail()}");
    }

    /// <summary>
    /// Runs the caller's probe on fresh agent streams until it succeeds, the VMM dies (then the console tail says
    /// why) or <paramref name="remaining"/> runs out.
    /// </summary>
    private async Task WaitForAgentAsync(QemuVm vm, TimeSpan remaining, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1));
        while (true)
        {
            Exception? failure = null;
            try
            {
                var stream = await vm.OpenAgentStreamAsync(deadline.Token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    var probe = _probe(stream, deadline.Token);
                    var first = await Task.WhenAny(probe, vm.Exited).ConfigureAwait(false);
                    if (first == probe)
                    {
                        await probe.ConfigureAwait(false);
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ToolstackException(ToolstackErrorKind.DeadlineExceeded,
                    $"VM {vm.Id}: wait for the agent: not ready within the boot timeout; console: {vm.Paths.ConsoleTail()}");
            }
#pragma warning disable CA1031 // Whatever the probe throws means "not yet"; the deadline bounds the retries.
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
                failure = e;
            }

            if (vm.Exited.IsCompleted)
            {
                var exit = await vm.Exited.ConfigureAwait(false);
                throw new ToolstackException(ToolstackErrorKind.Unavailable,
                    $"VM {vm.Id}: wait for the agent: {exit.Reason}; console: {vm.Paths.ConsoleTail()}");
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
                throw new ToolstackException(ToolstackErrorKind.DeadlineExceeded,
                    $"VM {vm.Id}: wait for the agent: not ready within the boot timeout; console: {vm.Paths.ConsoleTail()}");
            }
        }
    }
}
