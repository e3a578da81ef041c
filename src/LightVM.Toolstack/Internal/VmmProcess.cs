namespace LightVM.Toolstack.Internal;

/// <summary>Checks on a VMM process we may not be the parent of (it was daemonized, or started by a previous daemon).</summary>
internal static class VmmProcess
{
    /// <summary>
    /// True while <paramref name="pid"/> is a live (not zombie) process whose command line mentions
    /// <paramref name="marker"/>, so a recycled pid is not taken for our VMM.
    /// </summary>
    public static bool IsAlive(int pid, string marker)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var afterName = stat.LastIndexOf(')');
            if (afterName < 0 || afterName + 2 >= stat.Length || stat[afterName + 2] is 'Z' or 'X')
            {
                return false;
            }

            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline");
            return cmdline.Contains(marker, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static void Kill(int pid) => _ = NativeMethods.Libc.Kill(pid, NativeMethods.Libc.SigKill);

    /// <summary>Waits until the process is gone, polling /proc; false on timeout.</summary>
    public static async Task<bool> WaitGoneAsync(int pid, string marker, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid, marker))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }
}
