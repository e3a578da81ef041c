using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LightVM.Testing;

/// <summary>An ILogger writing to xunit's test output and keeping every line for assertions.</summary>
public sealed class TestLogger(ITestOutputHelper? output) : ILogger
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var line = $"{logLevel} [{eventId.Id}] {formatter(state, exception)}";
        lock (_lines)
        {
            _lines.Add(line);
        }

        try
        {
            output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test finished; a late background log line has nowhere to go.
        }
    }
}
