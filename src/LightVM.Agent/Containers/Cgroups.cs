using System.Globalization;
using LightVM.Agent.Protocol;
using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Containers;

/// <summary>
/// Per-container cgroup v2 directories under &lt;root&gt;/lightvm/&lt;id&gt;: limits (cpu.max, memory.max, pids.max),
/// accounting for Stats, and killing every process of a container. Unavailable without a cgroup2 mount (e.g. the
/// cgroup v1 host the tests run on); then limits fail with FailedPrecondition and stats fall back to /proc.
/// </summary>
internal sealed class Cgroups
{
    private const string Group = "lightvm";
    private readonly string _root;
    private readonly object _gate = new();
    private bool _delegated;

    public Cgroups(string root)
    {
        _root = root;
    }

    public bool Available => File.Exists(Path.Combine(_root, "cgroup.controllers"));

    public string PathFor(string containerId) => Path.Combine(_root, Group, containerId);

    /// <summary>Creates the container's cgroup and applies <paramref name="resources"/>.</summary>
    public string Create(string containerId, Resources? resources)
    {
        EnsureDelegated();
        var path = PathFor(containerId);
        Directory.CreateDirectory(path);
        try
        {
            if (resources is not null)
            {
                Apply(path, resources);
            }
        }
        catch
        {
            TryRemove(path);
            throw;
        }

        return path;
    }

    public void Apply(string path, Resources resources)
    {
        if (resources.HasCpuQuotaUs || resources.HasCpuPeriodUs)
        {
            var period = resources.HasCpuPeriodUs && resources.CpuPeriodUs > 0 ? resources.CpuPeriodUs : 100_000;
            var quota = resources.HasCpuQuotaUs && resources.CpuQuotaUs > 0
                ? resources.CpuQuotaUs.ToString(CultureInfo.InvariantCulture)
                : "max";
            Write(path, "cpu.max", $"{quota} {period.ToString(CultureInfo.InvariantCulture)}");
        }

        if (resources.HasMemoryLimitBytes)
        {
            Write(path, "memory.max", Limit(resources.MemoryLimitBytes));
        }

        if (resources.HasPidsLimit)
        {
            Write(path, "pids.max", Limit(resources.PidsLimit));
        }

        if (resources.HasCpuWeight)
        {
            if (resources.CpuWeight is < 1 or > 10_000)
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"cpu.weight {resources.CpuWeight} is outside 1-10000");
            }

            Write(path, "cpu.weight", resources.CpuWeight.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var (file, value) in resources.Unified.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            if (!IsInterfaceFile(file))
            {
                throw new AgentException(
                    AgentErrorKind.InvalidArgument, $"\"{file}\" is not a cgroup v2 interface file a container may set (cgroup.* and paths are refused)");
            }

            // A guest without swap has no memory.swap.max: a swap limit is then already met, whatever its value.
            if (file == "memory.swap.max" && !File.Exists(Path.Combine(path, file)))
            {
                continue;
            }

            Write(path, file, value);
        }
    }

    /// <summary>"controller.name" made of lower-case letters, digits, '_' and '.'; no cgroup core files.</summary>
    private static bool IsInterfaceFile(string file) =>
        file.Length is > 2 and < 64 &&
        file.Contains('.', StringComparison.Ordinal) &&
        !file.StartsWith("cgroup.", StringComparison.Ordinal) &&
        !file.StartsWith('.') &&
        !file.Contains("..", StringComparison.Ordinal) &&
        file.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '.');

    /// <summary>Kills every process in the cgroup (cgroup.kill, Linux 5.14+); false when not supported.</summary>
    public static bool Kill(string path)
    {
        try
        {
            File.WriteAllText(Path.Combine(path, "cgroup.kill"), "1");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public static void TryRemove(string path)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                Directory.Delete(path);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                // Processes are still leaving the cgroup.
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>CPU time in ns and working set (memory.current minus inactive file cache) in bytes.</summary>
    public static (ulong CpuNanos, ulong WorkingSet) Usage(string path)
    {
        ulong cpu = 0, current = 0, inactiveFile = 0;
        foreach (var line in ReadLines(Path.Combine(path, "cpu.stat")))
        {
            if (line.StartsWith("usage_usec ", StringComparison.Ordinal))
            {
                cpu = ulong.Parse(line.AsSpan(11), CultureInfo.InvariantCulture) * 1000;
            }
        }

        foreach (var line in ReadLines(Path.Combine(path, "memory.current")))
        {
            current = ulong.Parse(line, CultureInfo.InvariantCulture);
        }

        foreach (var line in ReadLines(Path.Combine(path, "memory.stat")))
        {
            if (line.StartsWith("inactive_file ", StringComparison.Ordinal))
            {
                inactiveFile = ulong.Parse(line.AsSpan(14), CultureInfo.InvariantCulture);
            }
        }

        return (cpu, current > inactiveFile ? current - inactiveFile : 0);
    }

    private static IEnumerable<string> ReadLines(string path) =>
        File.Exists(path) ? File.ReadLines(path) : [];

    /// <summary>Enables the controllers we use for the children of the root and of our group, once.</summary>
    private void EnsureDelegated()
    {
        lock (_gate)
        {
            if (_delegated)
            {
                return;
            }

            var available = File.ReadAllText(Path.Combine(_root, "cgroup.controllers"))
                .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var wanted = string.Join(' ', new[] { "cpu", "memory", "pids" }.Where(available.Contains).Select(c => "+" + c));
            var group = Path.Combine(_root, Group);
            Directory.CreateDirectory(group);
            if (wanted.Length > 0)
            {
                File.WriteAllText(Path.Combine(_root, "cgroup.subtree_control"), wanted);
                File.WriteAllText(Path.Combine(group, "cgroup.subtree_control"), wanted);
            }

            _delegated = true;
        }
    }

    private static string Limit(ulong value) => value == 0 ? "max" : value.ToString(CultureInfo.InvariantCulture);

    private static void Write(string path, string file, string value)
    {
        try
        {
            // cgroupfs refuses to create files with a permission error; say what is really missing.
            if (!File.Exists(Path.Combine(path, file)))
            {
                throw new FileNotFoundException(null, file);
            }

            File.WriteAllText(Path.Combine(path, file), value);
        }
        catch (FileNotFoundException)
        {
            throw new AgentException(
                AgentErrorKind.FailedPrecondition, $"cannot set {file}: the container's cgroup has no such file (its controller is not in the guest kernel)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"cannot set {file} to \"{value}\": {e.Message}");
        }
    }
}
