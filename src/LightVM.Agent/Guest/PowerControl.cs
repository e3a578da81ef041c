using System.Runtime.InteropServices;
using LightVM.Agent.Native;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Guest;

/// <summary>
/// What Shutdown does. In a guest: sync, then power off - or reboot when the kernel command line says
/// lightvm.halt=reboot (QEMU microvm without ACPI cannot power off; with reboot=t and -no-reboot QEMU exits on a
/// reboot instead). Outside a guest (tests on a host) it only stops the agent: never reboot the machine we run on.
/// </summary>
internal sealed class PowerControl
{
    private readonly bool _guest;
    private readonly CancellationTokenSource _stopAgent;
    private readonly ILogger _logger;

    public PowerControl(bool guest, CancellationTokenSource stopAgent, ILogger logger)
    {
        _guest = guest;
        _stopAgent = stopAgent;
        _logger = logger;
    }

    /// <summary>Powers off shortly, leaving time for the answer to reach the host.</summary>
    public void ScheduleShutdown()
    {
        var reboot = _guest && HaltByReboot();
        AgentLog.ShuttingDown(_logger, !_guest ? "stopping the agent (not a guest)" : reboot ? "rebooting (lightvm.halt=reboot)" : "powering off");
        _ = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            Libc.sync();
            if (!_guest)
            {
                await _stopAgent.CancelAsync().ConfigureAwait(false);
                return;
            }

            var command = reboot ? Libc.RbAutoboot : Libc.RbPowerOff;
            if (Libc.reboot(command) != 0)
            {
                AgentLog.RebootFailed(_logger, reboot ? "RB_AUTOBOOT" : "RB_POWER_OFF", Libc.Describe(Marshal.GetLastPInvokeError()));
            }
        });
    }

    private static bool HaltByReboot()
    {
        try
        {
            return File.ReadAllText("/proc/cmdline").Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Contains("lightvm.halt=reboot", StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
