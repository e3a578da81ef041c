using LightVM.Tinyx;
using LightVM.Tinyx.Cli;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;

// lightvm-tinyx: results on stdout, progress and errors on stderr.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

using var loggers = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss ";
    })
    .AddFilter(null, LogLevel.Information)
    .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(Usage.Text);
    return args.Length == 0 ? 2 : 0;
}

try
{
    var rest = new Arguments(args.Skip(1));
    return args[0] switch
    {
        "kernel" => await KernelCommand.RunAsync(rest, loggers, cancellation.Token),
        "initramfs" => await InitramfsCommand.RunAsync(rest, loggers, cancellation.Token),
        _ => throw new TinyxException(TinyxErrorKind.InvalidArgument, $"unknown command '{args[0]}' (kernel or initramfs)"),
    };
}
catch (TinyxException e)
{
    await Console.Error.WriteLineAsync($"lightvm-tinyx: {e.Kind}: {e.Message}");
    return e.Kind == TinyxErrorKind.InvalidArgument ? 2 : 1;
}
catch (OperationCanceledException)
{
    await Console.Error.WriteLineAsync("lightvm-tinyx: cancelled");
    return 130;
}
