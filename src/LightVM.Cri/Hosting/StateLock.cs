using System.Globalization;

namespace LightVM.Cri.Hosting;

/// <summary>
/// An exclusive lock on the state directory, so two daemons never share one state. .NET takes an advisory
/// <c>flock</c> for <see cref="FileShare.None"/> on Unix; the kernel drops it when the process dies, so a crashed
/// daemon never leaves a stale lock behind.
/// </summary>
internal sealed class StateLock : IDisposable
{
    private readonly FileStream _file;

    private StateLock(FileStream file) => _file = file;

    /// <summary>Takes the lock at <paramref name="path"/> or fails at once.</summary>
    /// <exception cref="DaemonStartException">Another process holds it.</exception>
    public static StateLock Acquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            var holder = ReadHolder(path);
            throw new DaemonStartException(
                $"another lightvm-cri{holder} already uses the state directory {Path.GetDirectoryName(path)} " +
                $"(lock {path}); stop it or give this one another --state.root");
        }

        // The holder's pid goes into a file beside the lock: the lock file itself cannot be read by another
        // process while held (.NET takes a shared flock to read it).
        File.WriteAllText(PidPath(path), Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        return new StateLock(file);
    }

    public void Dispose() => _file.Dispose();

    private static string PidPath(string lockPath) => Path.ChangeExtension(lockPath, ".pid");

    private static string ReadHolder(string path)
    {
        try
        {
            var text = File.ReadAllText(PidPath(path)).Trim();
            return int.TryParse(text, CultureInfo.InvariantCulture, out var pid) ? $" (pid {pid})" : string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}

/// <summary>The daemon cannot start; the message says why and what to do.</summary>
internal sealed class DaemonStartException : Exception
{
    public DaemonStartException()
    {
    }

    public DaemonStartException(string message)
        : base(message)
    {
    }

    public DaemonStartException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
