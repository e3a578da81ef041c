using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack.Qemu;

internal static partial class QmpLog
{
    [LoggerMessage(5100, LogLevel.Debug, "VM {Vm}: QMP event {Event}")]
    public static partial void Event(ILogger logger, string vm, string @event);

    [LoggerMessage(5101, LogLevel.Warning, "VM {Vm}: QMP message not understood: {Problem}")]
    public static partial void BadMessage(ILogger logger, string vm, string problem);

    [LoggerMessage(5102, LogLevel.Error, "VM {Vm}: handler for QMP event {Event} failed")]
    public static partial void EventHandlerFailed(ILogger logger, string vm, string @event, Exception exception);
}
