using System.Globalization;
using System.Text.RegularExpressions;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>The daemon, image and pod config every pod test starts from.</summary>
internal static partial class PodTestSupport
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(90);

    public static async Task<DaemonProcess> StartDaemonAsync(string root, int poolSize = 1, params string[] extraArgs)
    {
        var kernel = Environment.GetEnvironmentVariable("LIGHTVM_TEST_KERNEL");
        var initrd = Environment.GetEnvironmentVariable("LIGHTVM_TEST_INITRD");
        Assert.False(string.IsNullOrEmpty(kernel) || string.IsNullOrEmpty(initrd),
            "LIGHTVM_TEST_KERNEL and LIGHTVM_TEST_INITRD must name the guest kernel and initramfs (hack/test.sh sets them from hack/build-guest.sh)");
        return await DaemonProcess.StartAsync(root,
            [$"--toolstack.kernel={kernel}", $"--toolstack.initrd={initrd}", "--toolstack.accel=tcg", $"--pool.size={poolSize}", .. extraArgs]);
    }

    public static async Task<string> PullBusyboxAsync(LocalRegistry registry, CriClient cri, string repository)
    {
        await registry.Pusher.PushAsync(repository, "latest", BusyboxImage.Build());
        var name = $"{registry.Host}/{repository}:latest";
        await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = new V1.ImageSpec { Image = name } }, deadline: Deadline());
        return name;
    }

    public static V1.PodSandboxConfig PodConfig(string name, string logDirectory) => new()
    {
        Metadata = new V1.PodSandboxMetadata { Name = name, Namespace = "default", Uid = $"uid-{name}" },
        Hostname = name,
        LogDirectory = logDirectory,
        Labels = { ["app"] = name },
    };

    public static DateTime Deadline() => DateTime.UtcNow + CallTimeout;

    /// <summary>
    /// Polls the container log at <paramref name="path"/> (empty while it does not exist) until <paramref name="done"/>
    /// holds; fails after <paramref name="within"/> naming <paramref name="what"/> and showing the log. Returns the log.
    /// </summary>
    public static async Task<string> WaitForLogAsync(string path, Func<string, bool> done, TimeSpan within, string what)
    {
        var until = DateTime.UtcNow + within;
        while (true)
        {
            var log = File.Exists(path) ? File.ReadAllText(path) : string.Empty;
            if (done(log))
            {
                return log;
            }

            Assert.True(DateTime.UtcNow < until, $"no {what} in {path} after {within.TotalSeconds:F0} s; log:\n{log}");
            await Task.Delay(100);
        }
    }

    /// <summary>The numbers of the "tick N" lines a ticker container logged, in log order.</summary>
    public static List<int> Ticks(string log) =>
        TickLine().Matches(log).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();

    /// <summary>Waits until the log has tick <paramref name="atLeast"/> or later; returns the highest tick seen.</summary>
    public static async Task<int> WaitForTickAsync(string logPath, int atLeast)
    {
        var log = await WaitForLogAsync(
            logPath, l => Ticks(l) is { Count: > 0 } ticks && ticks.Max() >= atLeast, TimeSpan.FromSeconds(60), $"tick {atLeast}");
        return Ticks(log).Max();
    }

    /// <summary>Waits until <paramref name="pid"/> is gone (a zombie counts as gone: QEMU daemonizes, so init reaps it).</summary>
    public static async Task WaitGoneAsync(int pid)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            Assert.True(DateTime.UtcNow < until, $"process {pid} still runs after 30 s");
            await Task.Delay(100);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^\S+ stdout F tick (\d+)$", RegexOptions.Multiline)]
    private static partial Regex TickLine();
}
