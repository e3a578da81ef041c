using LightVM.Protos.Agent.V1;

namespace LightVM.Agent.Processes;

/// <summary>A child's raw wait status and when it was collected.</summary>
internal readonly record struct WaitStatus(int Raw, long CollectedAtUnixNano)
{
    public bool Signaled => (Raw & 0x7f) != 0 && (Raw & 0x7f) != 0x7f;

    public int Signal => Signaled ? Raw & 0x7f : 0;

    /// <summary>The exit code, or 128 + signal for a killed process (the shell and CRI convention).</summary>
    public int ExitCode => Signaled ? 128 + Signal : (Raw >> 8) & 0xff;

    public ExitStatus ToExitStatus(long startedAtUnixNano) => new()
    {
        ExitCode = ExitCode,
        Signal = (uint)Signal,
        StartedAtUnixNano = startedAtUnixNano,
        // A process that exits at once can be reaped before its start is recorded; never finish before starting.
        FinishedAtUnixNano = Math.Max(CollectedAtUnixNano, startedAtUnixNano),
    };
}
