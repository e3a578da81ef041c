using System.Globalization;

namespace LightVM.Agent.Guest;

/// <summary>Readings from /proc for Info and Stats.</summary>
internal static class ProcFs
{
    /// <summary>USER_HZ: the unit of /proc tick counters, 100 on every Linux ABI.</summary>
    private const ulong TicksPerSecond = 100;
    private const ulong NanosPerTick = 1_000_000_000 / TicksPerSecond;

    public static string KernelRelease() => ReadTrimmed("/proc/sys/kernel/osrelease");

    public static string Hostname() => ReadTrimmed("/proc/sys/kernel/hostname");

    public static long BootTimeUnixNano()
    {
        foreach (var line in File.ReadLines("/proc/stat"))
        {
            if (line.StartsWith("btime ", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6), CultureInfo.InvariantCulture) * 1_000_000_000;
            }
        }

        return 0;
    }

    public static ulong UptimeNanos()
    {
        var seconds = ReadTrimmed("/proc/uptime").Split(' ')[0];
        return (ulong)(double.Parse(seconds, CultureInfo.InvariantCulture) * 1e9);
    }

    /// <summary>Busy CPU time of the whole VM (everything but idle and iowait).</summary>
    public static ulong CpuBusyNanos()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        ulong busy = 0;
        for (var i = 1; i < fields.Length && i <= 8; i++)
        {
            if (i is 4 or 5)
            {
                continue;
            }

            busy += ulong.Parse(fields[i], CultureInfo.InvariantCulture);
        }

        return busy * NanosPerTick;
    }

    /// <summary>MemTotal and MemAvailable in bytes.</summary>
    public static (ulong Total, ulong Available) Memory()
    {
        ulong total = 0, available = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
            {
                total = Kilobytes(line);
            }
            else if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                available = Kilobytes(line);
            }
        }

        return (total, available);
    }

    /// <summary>Resident set size of a process in bytes (VmRSS), 0 when it is gone.</summary>
    public static ulong ResidentBytes(string pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return Kilobytes(line);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The process exited.
        }

        return 0;
    }

    /// <summary>User plus system CPU time of one process in ns, 0 when it is gone.</summary>
    public static ulong ProcessCpuNanos(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // Fields after the parenthesised command name, which may itself contain spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (ulong.Parse(fields[11], CultureInfo.InvariantCulture) + ulong.Parse(fields[12], CultureInfo.InvariantCulture)) * NanosPerTick;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static ulong Kilobytes(string line) =>
        ulong.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    private static string ReadTrimmed(string path) => File.ReadAllText(path).Trim();
}
