using LightVM.Agent.Native;
using LightVM.Agent.Processes;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Service;

internal sealed partial class AgentService
{
    private async Task<ExecSyncResponse> ExecSyncAsync(ExecSyncRequest request, CancellationToken cancellationToken)
    {
        var container = Running(request.Id, "exec");
        var spec = container.Spec;
        if (request.Args.Count == 0 || request.Args[0].Length == 0)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"exec in container {request.Id} has no command (args is empty)");
        }

        var limit = request.OutputLimitBytes == 0
            ? _options.ExecOutputLimitBytes
            : (int)Math.Min(request.OutputLimitBytes, (uint)_options.MaxExecOutputLimitBytes);
        var ownIdentity = request.HasUid || request.HasGid;
        var exec = ExecSpec.Join(container.RunningPid)
            .Cgroup(container.Cgroup)
            .Identity(request.HasUid ? request.Uid : spec.Uid, request.HasGid ? request.Gid : spec.Gid, ownIdentity ? [] : spec.AdditionalGids)
            .Command(request.Args, MergeEnvironment(spec.Env, request.Env), request.Cwd.Length > 0 ? request.Cwd : spec.Cwd.Length > 0 ? spec.Cwd : "/");
        var process = await _launcher.LaunchAsync(exec, $"exec in container {request.Id}").ConfigureAwait(false);

        var stdout = new CappedCapture(limit);
        var stderr = new CappedCapture(limit);
        var captures = Task.WhenAll(stdout.RunAsync(process.Stdout), stderr.RunAsync(process.Stderr));
        using var timeout = new CancellationTokenSource();
        if (request.TimeoutMs > 0)
        {
            timeout.CancelAfter(TimeSpan.FromMilliseconds(request.TimeoutMs));
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        WaitStatus status;
        try
        {
            status = await process.Exited.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The exec'd process leads its own process group: kill the group so its children go too.
            Libc.kill(-process.Pid, SigKill);
            Libc.kill(process.Pid, SigKill);
            await process.Exited.ConfigureAwait(false);
            await process.Stdout.DisposeAsync().ConfigureAwait(false);
            await process.Stderr.DisposeAsync().ConfigureAwait(false);
            await captures.ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            AgentLog.ExecTimedOut(_logger, request.Id, request.TimeoutMs, process.Pid);
            throw new AgentException(
                AgentErrorKind.DeadlineExceeded,
                $"exec \"{request.Args[0]}\" in container {request.Id} timed out after {request.TimeoutMs} ms; its process group was killed");
        }

        await Containers.OutputPump.DrainAsync(
            captures, () => stdout.Total + stderr.Total, () => false, [process.Stdout, process.Stderr],
            _options.OutputDrainTimeout, _logger, $"exec in container {request.Id}").ConfigureAwait(false);
        return new ExecSyncResponse
        {
            ExitCode = status.ExitCode,
            Signal = (uint)status.Signal,
            Stdout = Google.Protobuf.ByteString.CopyFrom(stdout.Data),
            Stderr = Google.Protobuf.ByteString.CopyFrom(stderr.Data),
            StdoutTruncated = stdout.Truncated,
            StderrTruncated = stderr.Truncated,
        };
    }

    /// <summary>The container's environment with the exec's entries replacing same-named ones.</summary>
    private static List<string> MergeEnvironment(IEnumerable<string> container, IEnumerable<string> exec)
    {
        var merged = new List<string>(container);
        foreach (var entry in exec)
        {
            var name = entry.Split('=', 2)[0] + "=";
            merged.RemoveAll(e => e.StartsWith(name, StringComparison.Ordinal));
            merged.Add(entry);
        }

        return merged;
    }

    /// <summary>Keeps the first <c>limit</c> bytes of a stream and reads (discarding) the rest.</summary>
    private sealed class CappedCapture
    {
        private readonly int _limit;
        private readonly MemoryStream _kept = new();
        private long _total;

        public CappedCapture(int limit)
        {
            _limit = limit;
        }

        public long Total => Interlocked.Read(ref _total);

        public bool Truncated => Total > _limit;

        public ReadOnlySpan<byte> Data => _kept.GetBuffer().AsSpan(0, (int)_kept.Length);

        public async Task RunAsync(Stream pipe)
        {
            var buffer = new byte[8192];
            try
            {
                while (true)
                {
                    var read = await pipe.ReadAsync(buffer).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    var keep = (int)Math.Clamp(_limit - _kept.Length, 0, read);
                    _kept.Write(buffer, 0, keep);
                    Interlocked.Add(ref _total, read);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                // Closed by the agent after a timeout or a drain timeout.
            }
            finally
            {
                await pipe.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
