using System.Diagnostics;
using System.Globalization;
using LightVM.Images;
using LightVM.State;
using LightVM.Testing;
using Microsoft.Extensions.Logging.Abstractions;

// Usage:
//   PullBench free-port
//   PullBench push <registry url> <repository> <tag> [small files]   builds a ~45 MB 6-layer image and pushes it
//   PullBench pull <work dir> <image ref> <runs>         pulls cold (fresh store and state each time, one process so
//                                                        the JIT is warm after the first run as in the daemon), prints
//                                                        seconds per pull and the process's peak RSS (VmHWM)
return args switch
{
    ["free-port"] => FreePort(),
    ["push", var url, var repository, var tag] => await Push(new Uri(url), repository, tag, 3000),
    ["push", var url, var repository, var tag, var files] => await Push(new Uri(url), repository, tag, int.Parse(files, CultureInfo.InvariantCulture)),
    ["pull", var work, var reference, var runs] => await Pull(work, reference, int.Parse(runs, CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int FreePort()
{
    Console.WriteLine(LocalRegistry.FreePort());
    return 0;
}

static async Task<int> Push(Uri registry, string repository, string tag, int files)
{
    // A mix like real images: a small base, big incompressible binaries, compressible text, many small files.
    // All gzip, so umoci (no zstd support) can unpack it as the like-for-like baseline.
    var text = new System.Text.StringBuilder();
    var random = new Random(42);
    while (text.Length < 24 * 1024 * 1024)
    {
        text.Append(CultureInfo.InvariantCulture, $"line {random.Next()} of some fairly compressible configuration text {random.Next(1000)}\n");
    }

    var smallFiles = new LayerBuilder().Directory("usr").Directory("usr/share").Directory("usr/share/doc");
    for (var i = 0; i < files; i++)
    {
        smallFiles.File($"usr/share/doc/file{i:D4}.txt", $"small file {i} {new string('x', i % 2000)}\n");
    }

    var layers = new[]
    {
        BusyboxImage.Rootfs().Build(),
        new LayerBuilder().Directory("opt").RandomFile("opt/blob1", 14 * 1024 * 1024, 1).Build(),
        new LayerBuilder().Directory("opt").RandomFile("opt/blob2", 12 * 1024 * 1024, 2).Build(),
        new LayerBuilder().Directory("opt").RandomFile("opt/blob3", 10 * 1024 * 1024, 3).Build(),
        new LayerBuilder().Directory("etc").File("etc/big.conf", text.ToString()).Build(),
        smallFiles.Build(),
    };
    var image = new OciImageBuilder(layers).Build();
    await new RegistryPusher(registry).PushAsync(repository, tag, image);
    Console.WriteLine($"pushed {repository}:{tag}: {layers.Length} layers, {image.Size / 1024.0 / 1024.0:F1} MiB compressed, " +
                      $"{layers.Sum(l => l.Size) / 1024.0 / 1024.0:F1} MiB of layers");
    return 0;
}

static async Task<int> Pull(string work, string reference, int runs)
{
    for (var i = 1; i <= runs; i++)
    {
        var dir = Path.Combine(work, $"pull{i}");
        Directory.CreateDirectory(dir);
        var options = new ImagesOptions();
        var started = Stopwatch.GetTimestamp();
        using (var state = StateStore.Open(Path.Combine(dir, "state.db")))
        using (var manager = new ImageManager(options, Path.Combine(dir, "images"), state, Environment.GetEnvironmentVariable("BENCH_LOG") == "1" ? new ConsoleLogger() : NullLogger.Instance))
        {
            await manager.PullAsync(reference, null, CancellationToken.None);
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        // Stores are left for the script to delete after all runs: deleting thousands of files here would slow the
        // next run's file creation (ext4 with discard), which is noise, not our cost.
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pull {i} {seconds:F3}"));
    }

    var peak = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    Console.WriteLine($"peak {peak.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]}");
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: PullBench free-port | push <url> <repo> <tag> | pull <dir> <ref> <runs>");
    return 2;
}

/// <summary>Timestamps every log line to stderr (BENCH_LOG=1) to see where a pull spends its time.</summary>
internal sealed class ConsoleLogger : Microsoft.Extensions.Logging.ILogger
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds:F3} {formatter(state, exception)}"));
}
