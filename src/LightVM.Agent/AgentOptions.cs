using System.Globalization;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent;

/// <summary>The agent's settings, from its command line (the tiny init passes --guest).</summary>
internal sealed class AgentOptions
{
    public const string Usage = """
        usage: lightvm-agent [options]
          --guest                 running inside a LightVM guest: mount /tmp, /run, cgroup2 ... and power off on Shutdown
          --channel SPEC          virtio:NAME (a virtio-serial port by name, default virtio:lightvm.agent)
                                  or unix:PATH (listen on a unix socket; for tests)
          --exec-helper PATH      the lightvm-exec helper (default /usr/libexec/lightvm/lightvm-exec)
          --cgroup-root PATH      the cgroup v2 mount (default /sys/fs/cgroup)
          --output-buffer BYTES   unacknowledged output kept per container (default 1048576)
          --no-pivot              enter container roots with chroot even where pivot_root works
          --log-level LEVEL       trace, debug, information, warning, error (default information)
        """;

    public string Channel { get; set; } = "virtio:lightvm.agent";

    public bool Guest { get; set; }

    public string ExecHelper { get; set; } = "/usr/libexec/lightvm/lightvm-exec";

    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";

    public int OutputBufferBytes { get; set; } = 1 << 20;

    public int MaxOutputBufferBytes { get; set; } = 16 << 20;

    public int ExecOutputLimitBytes { get; set; } = 1 << 20;

    public int MaxExecOutputLimitBytes { get; set; } = 16 << 20;

    /// <summary>After a process exits, how long its output pipes may stay silent before the agent stops reading.</summary>
    public TimeSpan OutputDrainTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public bool NoPivot { get; set; }

    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static AgentOptions Parse(IReadOnlyList<string> args)
    {
        var options = new AgentOptions();
        for (var i = 0; i < args.Count; i++)
        {
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--guest":
                    options.Guest = true;
                    break;
                case "--channel":
                    options.Channel = Value();
                    break;
                case "--exec-helper":
                    options.ExecHelper = Value();
                    break;
                case "--cgroup-root":
                    options.CgroupRoot = Value();
                    break;
                case "--output-buffer":
                    var text = Value();
                    options.OutputBufferBytes = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes)
                        ? bytes
                        : throw new ArgumentException($"--output-buffer: \"{text}\" is not a byte count");
                    break;
                case "--no-pivot":
                    options.NoPivot = true;
                    break;
                case "--log-level":
                    var level = Value();
                    options.LogLevel = Enum.TryParse<LogLevel>(level, ignoreCase: true, out var parsed)
                        ? parsed
                        : throw new ArgumentException($"--log-level: unknown level \"{level}\"");
                    break;
                default:
                    throw new ArgumentException($"unknown option \"{args[i]}\"");
            }
        }

        options.Validate();
        return options;
    }

    public void Validate()
    {
        if (!Channel.StartsWith("virtio:", StringComparison.Ordinal) && !Channel.StartsWith("unix:", StringComparison.Ordinal))
        {
            throw new ArgumentException($"--channel: \"{Channel}\" is neither virtio:NAME nor unix:PATH");
        }

        if (Channel.IndexOf(':', StringComparison.Ordinal) == Channel.Length - 1)
        {
            throw new ArgumentException($"--channel: \"{Channel}\" has no name or path");
        }

        if (OutputBufferBytes < 4096 || OutputBufferBytes > MaxOutputBufferBytes)
        {
            throw new ArgumentException($"--output-buffer must be between 4096 and {MaxOutputBufferBytes}, not {OutputBufferBytes}");
        }

        if (!Path.IsPathRooted(ExecHelper))
        {
            throw new ArgumentException($"--exec-helper: \"{ExecHelper}\" must be an absolute path");
        }
    }
}
