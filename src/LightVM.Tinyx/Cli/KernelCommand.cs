using LightVM.Tinyx.Kernel;
using Microsoft.Extensions.Logging;

namespace LightVM.Tinyx.Cli;

internal static class KernelCommand
{
    public static async Task<int> RunAsync(Arguments args, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var options = new TinyxOptions();
        var verbose = false;
        while (args.TryNextOption(out var option))
        {
            switch (option)
            {
                case "--cache": options.CacheDirectory = Path.GetFullPath(args.Value(option)); break;
                case "--source": options.KernelSource = Path.GetFullPath(args.Value(option)); break;
                case "--config": options.KernelConfigFragment = Path.GetFullPath(args.Value(option)); break;
                case "--jobs": options.Jobs = args.IntValue(option); break;
                case "--verbose": verbose = true; break;
                default: throw Arguments.Unknown("kernel", option);
            }
        }

        var result = await new KernelBuilder(options, loggers.CreateLogger<KernelBuilder>()).BuildAsync(verbose, cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"key: {result.Key}");
        Console.WriteLine($"reused: {(result.Reused ? "yes" : "no")}");
        Console.WriteLine($"elapsed: {result.Elapsed.TotalSeconds:F1}s");
        Console.WriteLine($"size: {result.Size} bytes ({result.Size / 1048576.0:F1} MiB)");
        Console.WriteLine($"config: {result.ConfigPath}");
        Console.WriteLine($"vmlinux: {result.VmlinuxPath}");
        return 0;
    }
}
