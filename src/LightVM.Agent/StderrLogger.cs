using System.Text;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent;

/// <summary>
/// The guest's logger: one line per event on stderr, which the tiny init wires to the console. Deliberately not
/// Microsoft.Extensions.Logging.Console: that pulls in configuration and options machinery the guest does not need.
/// </summary>
internal sealed class StderrLogger : ILogger
{
    private readonly LogLevel _minimum;
    private readonly Stream _stderr = Console.OpenStandardError();
    private readonly object _gate = new();

    public StderrLogger(LogLevel minimum)
    {
        _minimum = minimum;
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= _minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var line = new StringBuilder(128)
            .Append("lightvm-agent: ")
            .Append(Level(logLevel))
            .Append(' ')
            .Append(formatter(state, exception));
        if (exception is not null)
        {
            line.Append(": ").Append(exception.GetType().Name).Append(": ").Append(exception.Message);
        }

        line.Append('\n');
        var bytes = Encoding.UTF8.GetBytes(line.ToString());
        lock (_gate)
        {
            try
            {
                _stderr.Write(bytes);
            }
            catch (IOException)
            {
                // No console: nowhere to log.
            }
        }
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "crit",
    };
}
