using LightVM.Agent.Native;
using LightVM.Agent.Protocol;

namespace LightVM.Agent.Processes;

/// <summary>A step of lightvm-exec that failed before the exec, as reported on its status pipe.</summary>
internal sealed record ExecFailure(string Step, int Errno, string Detail)
{
    private const int ENoent = 2;
    private const int ENoexec = 8;
    private const int EAcces = 13;
    private const int ENotdir = 20;
    private const int EXdev = 18;

    /// <summary>Parses "step\0errno\0detail\0".</summary>
    public static ExecFailure Parse(ReadOnlySpan<byte> report)
    {
        var parts = System.Text.Encoding.UTF8.GetString(report).Split('\0');
        var errno = parts.Length > 1 && int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var e) ? e : 0;
        return new ExecFailure(parts[0], errno, parts.Length > 2 ? parts[2] : string.Empty);
    }

    /// <summary>An error for the host; <paramref name="where"/> names the container or exec, e.g. "container web".</summary>
    public AgentException ToAgentException(string where)
    {
        var reason = Libc.Describe(Errno);
        return (Step, Errno) switch
        {
            ("exec", ENoent or ENotdir) => new AgentException(
                AgentErrorKind.NotFound, $"executable \"{Detail}\" not found in {where} (searched its PATH)"),
            ("exec", EAcces) => new AgentException(
                AgentErrorKind.FailedPrecondition, $"cannot execute \"{Detail}\" in {where}: permission denied"),
            ("exec", ENoexec) => new AgentException(
                AgentErrorKind.InvalidArgument, $"\"{Detail}\" in {where} is not an executable this guest can run"),
            ("chdir", ENoent or ENotdir) => new AgentException(
                AgentErrorKind.NotFound, $"working directory \"{Detail}\" does not exist in {where}"),
            ("chdir rootfs", ENoent or ENotdir) => new AgentException(
                AgentErrorKind.NotFound, $"rootfs \"{Detail}\" of {where} does not exist"),
            ("bind source", ENoent) => new AgentException(
                AgentErrorKind.NotFound, $"bind mount source \"{Detail}\" of {where} does not exist"),
            ("mount target", EXdev) => new AgentException(
                AgentErrorKind.InvalidArgument, $"mount target \"{Detail}\" of {where} resolves outside the container rootfs"),
            ("open container root" or "open namespace", _) => new AgentException(
                AgentErrorKind.FailedPrecondition, $"{where}: the container's main process is gone ({reason})"),
            _ => new AgentException(
                AgentErrorKind.Internal, $"starting {where} failed at step \"{Step}\"{(Detail.Length > 0 ? $" ({Detail})" : string.Empty)}: {reason}"),
        };
    }
}
