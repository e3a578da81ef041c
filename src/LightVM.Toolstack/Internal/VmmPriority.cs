using System.Globalization;
using System.Runtime.InteropServices;

namespace LightVM.Toolstack.Internal;

/// <summary>CPU priority of a VMM's threads (background boots start niced and come back to normal).</summary>
internal static class VmmPriority
{
    private const int CapSysNice = 23;

    /// <summary>Whether this process may lower a nice value again (CAP_SYS_NICE in its effective set).</summary>
    public static bool CanRaise()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            return line is not null &&
                   ulong.TryParse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps) &&
                   (caps & (1UL << CapSysNice)) != 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Sets every thread of <paramref name="pid"/> to nice 0. Twice over the thread list, so a thread a not yet
    /// reniced thread created meanwhile is caught too (new threads inherit their creator's nice value).
    /// </summary>
    public static bool TryRaiseToNormal(int pid, out string problem)
    {
        problem = string.Empty;
        for (var pass = 0; pass < 2; pass++)
        {
            string[] tasks;
            try
            {
                tasks = Directory.GetDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task");
            }
            catch (IOException e)
            {
                problem = $"list the threads of VMM pid {pid}: {e.Message}";
                return false;
            }

            foreach (var task in tasks)
            {
                if (!uint.TryParse(Path.GetFileName(task), NumberStyles.None, CultureInfo.InvariantCulture, out var tid))
                {
                    continue;
                }

                if (NativeMethods.Libc.SetPriority(NativeMethods.Libc.PrioProcess, tid, 0) != 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    const int ESRCH = 3;
                    if (errno != ESRCH)
                    {
                        problem = $"setpriority(thread {tid} of VMM pid {pid}, 0): {Marshal.GetPInvokeErrorMessage(errno)}";
                        return false;
                    }
                }
            }
        }

        return true;
    }
}
