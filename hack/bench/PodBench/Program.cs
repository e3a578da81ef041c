using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

// Pod benchmark driver for hack/bench-pods.sh (not a test: it prints numbers and asserts nothing).
//
// Usage: PodBench <kernel> <initrd> <pods> <k list, e.g. 0,10,30> <samples per K> <accel> <pool size for the K series>
//
// Runs the real daemon (a fresh state root per phase) against a local docker-registry holding busybox, and calls it
// through the CRI client exactly as kubelet does:
//   1. pool off and pool on (pool size = pods, filled before timing): <pods> pods one after another, each
//      RunPodSandbox, CreateContainer, StartContainer timed on the client; pods per second over the whole series;
//      the idle VMM's PSS of every pool-on pod after the pods have settled
//   2. with K pods already running (K from the list), <samples> RunPodSandbox calls that take a pooled VM (pool
//      refilled before each) and <samples> that boot cold (a pod shape the pool does not keep)
// Prints "result ..." lines that hack/bench-pods.sh turns into its table.
if (args.Length != 7)
{
    Console.Error.WriteLine("usage: PodBench <kernel> <initrd> <pods> <k list> <samples per K> <accel> <pool size for K>");
    return 2;
}

var kernel = args[0];
var initrd = args[1];
var pods = int.Parse(args[2], CultureInfo.InvariantCulture);
var ks = args[3].Split(',').Select(k => int.Parse(k, CultureInfo.InvariantCulture)).ToArray();
var samples = int.Parse(args[4], CultureInfo.InvariantCulture);
var accel = args[5];
var kPool = int.Parse(args[6], CultureInfo.InvariantCulture);

await using var registry = new LocalRegistry();
await registry.StartAsync();
await registry.Pusher.PushAsync("bench/busybox", "latest", BusyboxImage.Build());
var image = $"{registry.Host}/bench/busybox:latest";

var bench = new PodBench(kernel, initrd, accel, image);
await bench.SeriesAsync("off", poolSize: 0, pods);
await bench.SeriesAsync("on", poolSize: pods, pods);
await bench.ScalingAsync(ks, samples, kPool);
return 0;

internal sealed class PodBench(string kernel, string initrd, string accel, string image)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(3);
    private int _serial;

    private string Kernel { get; } = kernel;

    private string Initrd { get; } = initrd;

    private string Accel { get; } = accel;

    private string Image => image;

    /// <summary>Pods one after another with the pool off (<paramref name="poolSize"/> 0) or filled to the series.</summary>
    public async Task SeriesAsync(string label, int poolSize, int count)
    {
        await using var session = await Session.StartAsync(this, poolSize);
        if (poolSize > 0)
        {
            Log($"pool {label}: waiting for {poolSize} prepared VMs");
            await session.WaitPoolAsync(p => p.Ready >= poolSize);
        }

        var run = new List<double>();
        var createStart = new List<double>();
        var creates = new List<double>();
        var claims = new List<double>();
        var all = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            var t = Stopwatch.StartNew();
            var podId = await session.RunPodAsync(Config($"series-{label}-{i}", session.LogDirectory));
            var tRun = t.Elapsed.TotalMilliseconds;
            var containerId = (await session.Cri.Runtime.CreateContainerAsync(new V1.CreateContainerRequest
            {
                PodSandboxId = podId,
                SandboxConfig = Config($"series-{label}-{i}", session.LogDirectory),
                Config = new V1.ContainerConfig
                {
                    Metadata = new V1.ContainerMetadata { Name = "app" },
                    Image = new V1.ImageSpec { Image = Image },
                    Command = { "sh", "-c", "echo ready; exec sleep 3600" },
                    LogPath = $"{podId}/app.log",
                },
            }, deadline: Deadline())).ContainerId;
            creates.Add(t.Elapsed.TotalMilliseconds - tRun);
            await session.Cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = containerId }, deadline: Deadline());
            var tAll = t.Elapsed.TotalMilliseconds;
            run.Add(tRun);
            createStart.Add(tAll - tRun);
            var info = await session.PodInfoAsync(podId);
            claims.Add(info.ClaimMs);
            Log($"pool {label} pod {i + 1}/{count}: RunPodSandbox {tRun:F0} ms ({info.Source}, claim {info.ClaimMs:F0} ms), Create+Start {tAll - tRun:F0} ms");
        }

        var seconds = all.Elapsed.TotalSeconds;
        Result($"series {label} run", run);
        Result($"series {label} claim", claims);
        Result($"series {label} create_start", createStart);
        Result($"series {label} create", creates);
        Result($"series {label} start", createStart.Zip(creates, (all, create) => all - create).ToList());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result series {label} pods_per_s {count / seconds:F3}"));
        if (poolSize > 0)
        {
            var pool = await session.PoolAsync();
            Console.WriteLine($"result series {label} pool hits {pool.Hits} misses {pool.Misses}");
        }

        // Idle memory: let the guests settle (pool refills, container start-up), then read each VMM's PSS.
        Log($"pool {label}: letting the pods idle 10 s before reading the VMMs' PSS");
        await Task.Delay(TimeSpan.FromSeconds(10));
        var pss = new List<double>();
        var guestMib = 0;
        foreach (var podId in session.Pods)
        {
            var info = await session.PodInfoAsync(podId);
            pss.Add(PssKib(info.VmmPid) / 1024.0);
            guestMib = info.MemoryMib;
        }

        Result($"series {label} idle_pss_mib", pss);
        Console.WriteLine($"result series {label} guest_mib {guestMib}");
    }

    /// <summary>RunPodSandbox with K pods already running: pooled (pool refilled first) and cold.</summary>
    public async Task ScalingAsync(int[] ks, int samples, int poolSize)
    {
        await using var session = await Session.StartAsync(this, poolSize);
        var background = 0;
        foreach (var k in ks.Order())
        {
            while (background < k)
            {
                await session.RunPodAsync(Config($"idle-{background}", string.Empty));
                background++;
            }

            Log($"K={k}: {session.Pods.Count} pods running; timing {samples} pooled and {samples} cold RunPodSandbox");
            var pooled = new List<double>();
            var claims = new List<double>();
            var cold = new List<double>();
            var misses = 0;
            for (var s = 0; s < samples; s++)
            {
                await session.WaitPoolAsync(p => p.Ready >= poolSize);
                var t = Stopwatch.StartNew();
                var podId = await session.RunPodAsync(Config($"k{k}-pooled-{s}", string.Empty));
                pooled.Add(t.Elapsed.TotalMilliseconds);
                var info = await session.PodInfoAsync(podId);
                claims.Add(info.ClaimMs);
                misses += info.Source == "pooled" ? 0 : 1;
                await session.RemovePodAsync(podId);

                // 96 MiB of pod limit -> a 160 MiB VM: a shape the pool does not keep, so this one boots.
                var config = Config($"k{k}-cold-{s}", string.Empty);
                config.Linux = new V1.LinuxPodSandboxConfig { Resources = new V1.LinuxContainerResources { MemoryLimitInBytes = 96L << 20 } };
                t.Restart();
                podId = await session.RunPodAsync(config);
                cold.Add(t.Elapsed.TotalMilliseconds);
                await session.RemovePodAsync(podId);
                Log($"K={k} sample {s + 1}/{samples}: pooled {pooled[^1]:F0} ms ({info.Source}), cold {cold[^1]:F0} ms");
            }

            Result($"k {k} pooled", pooled);
            Result($"k {k} claim", claims);
            Result($"k {k} cold", cold);
            Console.WriteLine($"result k {k} pooled_misses {misses}");
        }
    }

    internal V1.PodSandboxConfig Config(string name, string logDirectory)
    {
        var uid = Interlocked.Increment(ref _serial);
        return new V1.PodSandboxConfig
        {
            Metadata = new V1.PodSandboxMetadata { Name = name, Namespace = "bench", Uid = $"bench-{uid}" },
            Hostname = name,
            LogDirectory = logDirectory,
        };
    }

    private static void Result(string name, List<double> values)
    {
        var sorted = values.Order().ToArray();
        double Pick(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"result {name} n {sorted.Length} p50 {Pick(0.5):F1} p90 {Pick(0.9):F1} min {sorted.FirstOrDefault():F1} max {sorted.LastOrDefault():F1}"));
    }

    private static long PssKib(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
        {
            if (line.StartsWith("Pss:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no Pss line for process {pid}");
    }

    private static DateTime Deadline() => DateTime.UtcNow + CallTimeout;

    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {message}");

    internal sealed record PodInfo(string Source, double ClaimMs, int VmmPid, int MemoryMib);

    internal sealed record PoolShape(int Ready, long Hits, long Misses);

    /// <summary>One daemon on its own state root, with the image pulled; removes every pod it made when disposed.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private readonly TempDirectory _root;
        private readonly DaemonProcess _daemon;

        private Session(TempDirectory root, DaemonProcess daemon)
        {
            _root = root;
            _daemon = daemon;
            Cri = daemon.Connect();
            LogDirectory = root.Combine("logs");
        }

        public CriClient Cri { get; }

        public string LogDirectory { get; }

        public List<string> Pods { get; } = [];

        public static async Task<Session> StartAsync(PodBench bench, int poolSize)
        {
            var root = new TempDirectory("lvbench");
            var daemon = await DaemonProcess.StartAsync(root.Path,
            [
                $"--toolstack.kernel={bench.Kernel}", $"--toolstack.initrd={bench.Initrd}",
                $"--toolstack.accel={bench.Accel}", $"--pool.size={poolSize}",
                .. (Environment.GetEnvironmentVariable("BENCH_DAEMON_ARGS") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries),
            ], TimeSpan.FromMinutes(3));
            var session = new Session(root, daemon);
            await session.Cri.Images.PullImageAsync(new V1.PullImageRequest { Image = new V1.ImageSpec { Image = bench.Image } }, deadline: Deadline());

            // One untimed pod first: a daemon just started may still be choosing its accelerator (accel=auto test-boots
            // KVM once, in the background), which is start-up cost, not pod cost. It boots cold: the pool keeps no
            // VM of its 160 MiB shape.
            var warm = bench.Config("warm-up", string.Empty);
            warm.Linux = new V1.LinuxPodSandboxConfig { Resources = new V1.LinuxContainerResources { MemoryLimitInBytes = 96L << 20 } };
            await session.RemovePodAsync(await session.RunPodAsync(warm));
            return session;
        }

        public async Task<string> RunPodAsync(V1.PodSandboxConfig config)
        {
            try
            {
                var id = (await Cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = config }, deadline: Deadline())).PodSandboxId;
                Pods.Add(id);
                return id;
            }
            catch (Grpc.Core.RpcException)
            {
                // A bench run that fails says why: the daemon's own account (rollback, guest console) goes with it.
                var lines = _daemon.Output.Split('\n');
                Log($"RunPodSandbox {config.Metadata.Name} failed; the daemon's last log lines:\n{string.Join('\n', lines[Math.Max(0, lines.Length - 80)..])}");
                throw;
            }
        }

        public async Task RemovePodAsync(string podId)
        {
            await Cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: Deadline());
            await Cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: Deadline());
            Pods.Remove(podId);
        }

        public async Task<PodInfo> PodInfoAsync(string podId)
        {
            var status = await Cri.Runtime.PodSandboxStatusAsync(new V1.PodSandboxStatusRequest { PodSandboxId = podId, Verbose = true }, deadline: Deadline());
            using var info = JsonDocument.Parse(status.Info["info"]);
            var root = info.RootElement;
            var vm = root.GetProperty("vm");
            return new PodInfo(root.GetProperty("source").GetString() ?? "?", root.GetProperty("claimMs").GetDouble(),
                vm.GetProperty("vmmPid").GetInt32(), vm.GetProperty("memoryMib").GetInt32());
        }

        public async Task<PoolShape> PoolAsync()
        {
            var status = await Cri.Runtime.StatusAsync(new V1.StatusRequest { Verbose = true }, deadline: Deadline());
            using var pool = JsonDocument.Parse(status.Info["pool"]);
            var shape = pool.RootElement.GetProperty("shapes")[0];
            return new PoolShape(shape.GetProperty("ready").GetInt32(), shape.GetProperty("hits").GetInt64(), shape.GetProperty("misses").GetInt64());
        }

        public async Task WaitPoolAsync(Func<PoolShape, bool> done)
        {
            var until = DateTime.UtcNow + TimeSpan.FromMinutes(10);
            while (!done(await PoolAsync()))
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"the pool did not fill in 10 minutes: {await PoolAsync()}");
                }

                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var podId in Pods.ToArray())
            {
                try
                {
                    await RemovePodAsync(podId);
                }
                catch (Grpc.Core.RpcException e)
                {
                    Log($"removing pod {podId}: {e.Status}");
                }
            }

            Cri.Dispose();
            await _daemon.DisposeAsync();
            if (Environment.GetEnvironmentVariable("BENCH_DAEMON_LOG") is { Length: > 0 } logFile)
            {
                await File.AppendAllTextAsync(logFile, _daemon.Output);
            }

            _root.Dispose();
        }
    }
}
