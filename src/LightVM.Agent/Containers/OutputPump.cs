using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Containers;

/// <summary>Moves a process's output from its pipes into memory, and decides when output is over.</summary>
internal static class OutputPump
{
    private const int ReadSize = 8192;

    /// <summary>Reads <paramref name="pipe"/> into <paramref name="log"/> until EOF, pausing while the log is full.</summary>
    public static async Task RunAsync(Stream pipe, OutputStream stream, OutputLog log)
    {
        var buffer = new byte[ReadSize];
        try
        {
            while (true)
            {
                // Not reading is the back-pressure: the pipe fills and the writer blocks. Nothing is dropped.
                await log.WaitForSpaceAsync(CancellationToken.None).ConfigureAwait(false);
                var read = await pipe.ReadAsync(buffer).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                log.Append(stream, buffer.AsSpan(0, read), UnixTime.NowNanos());
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The agent closed the pipe (see DrainAsync).
        }
        finally
        {
            await pipe.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for the pumps after the process exited. A process it left behind may hold the pipes open forever, so
    /// when no byte arrives for <paramref name="timeout"/> the pipes are closed - unless the pumps are only paused
    /// because the consumer is behind (<paramref name="paused"/>), in which case waiting is right.
    /// </summary>
    public static async Task DrainAsync(
        Task pumps, Func<long> progress, Func<bool> paused, IEnumerable<Stream> pipes, TimeSpan timeout, ILogger logger, string what)
    {
        var waited = TimeSpan.Zero;
        while (!pumps.IsCompleted)
        {
            var before = progress();
            await Task.WhenAny(pumps, Task.Delay(timeout)).ConfigureAwait(false);
            waited += timeout;
            if (pumps.IsCompleted)
            {
                break;
            }

            if (progress() == before && !paused())
            {
                AgentLog.OutputDrainTimedOut(logger, what, waited.TotalSeconds);
                foreach (var pipe in pipes)
                {
                    await pipe.DisposeAsync().ConfigureAwait(false);
                }

                break;
            }
        }

        await pumps.ConfigureAwait(false);
    }
}
