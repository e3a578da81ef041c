using System.Diagnostics;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Service;

internal sealed partial class AgentService
{
    private const string WarmUpTarget = "/.lightvm";
    private static readonly TimeSpan WarmUpExitTimeout = TimeSpan.FromSeconds(30);
    private int _warmUps;

    /// <summary>
    /// One throwaway container through the same code as a real one: CreateContainer, StartContainer, exit, remove.
    /// Its rootfs is an empty directory under the scratch directory with the exec helper's directory bound in, and
    /// its command is the helper's <c>--version</c>, so nothing in it depends on an image.
    /// </summary>
    private async Task<WarmUpResponse> WarmUpAsync(WarmUpRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        if (!Path.IsPathRooted(request.ScratchDir))
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"warm-up scratch directory \"{request.ScratchDir}\" must be an absolute path");
        }

        if (!Directory.Exists(request.ScratchDir))
        {
            throw new AgentException(AgentErrorKind.NotFound, $"warm-up scratch directory {request.ScratchDir} does not exist");
        }

        var id = $"lightvm-warm-up-{Interlocked.Increment(ref _warmUps)}";
        var directory = Path.Combine(request.ScratchDir, "." + id);
        var rootfs = Path.Combine(directory, "rootfs");
        var helperDirectory = Path.GetDirectoryName(_options.ExecHelper) ?? "/";
        try
        {
            Directory.CreateDirectory(rootfs);
            var create = new CreateContainerRequest { Id = id, Rootfs = rootfs, Hostname = "warm-up" };
            create.Args.Add($"{WarmUpTarget}/{Path.GetFileName(_options.ExecHelper)}");
            create.Args.Add("--version");
            create.Mounts.Add(new Mount { Source = helperDirectory, Target = WarmUpTarget, Bind = true, Readonly = true });
            CreateContainer(create);
            try
            {
                await StartContainerAsync(new StartContainerRequest { Id = id }).ConfigureAwait(false);
                var exit = await _store.Get(id).Exited.WaitAsync(WarmUpExitTimeout, cancellationToken).ConfigureAwait(false);
                if (exit.ExitCode != 0)
                {
                    throw new AgentException(
                        AgentErrorKind.Internal, $"warm-up container exited with code {exit.ExitCode} (signal {exit.Signal}, {exit.Reason})");
                }
            }
            catch (TimeoutException)
            {
                throw new AgentException(AgentErrorKind.DeadlineExceeded, $"warm-up container did not exit within {WarmUpExitTimeout.TotalSeconds:F0} s");
            }
            finally
            {
                await RemoveContainerAsync(new RemoveContainerRequest { Id = id, Force = true }).ConfigureAwait(false);
            }
        }
        finally
        {
            TryDeleteTree(directory);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        AgentLog.WarmedUp(_logger, elapsed.TotalMilliseconds);
        return new WarmUpResponse { DurationNanos = (ulong)(elapsed.Ticks * 100) };
    }

    private void TryDeleteTree(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            AgentLog.WarmUpCleanupFailed(_logger, directory, e.Message);
        }
    }
}
