using System.Diagnostics;
using Google.Protobuf;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Integration.Tests;

/// <summary>
/// The README's crictl session as a new user without docker.io runs it: hack/local-registry.sh, the daemon with
/// docker.io mirrored there, and the pod and container from hack/examples/ (crictl's JSON is the CRI messages'
/// JSON form, read here the same way).
/// </summary>
[Trait("Category", "Qemu")]
public sealed class ReadmeSessionTests
{
    private static readonly JsonParser Json = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    [Fact]
    public async Task LocalRegistryAndHackExamples_PodRunsTheExampleContainerWithLogsAndExec()
    {
        using var dir = new TempDirectory();
        var repo = RepositoryPaths.Root;
        var port = LocalRegistry.FreePort();
        var registryDir = dir.Combine("registry");
        var script = await RunAsync(Path.Combine(repo, "hack", "local-registry.sh"), port, registryDir);
        try
        {
            Assert.Contains($"mirrors=[\"http://127.0.0.1:{port}\"]", script, StringComparison.Ordinal);
            await using var daemon = await PodTestSupport.StartDaemonAsync(dir.Path, 1, $"--images.registries.\"docker.io\".mirrors=[\"http://127.0.0.1:{port}\"]");
            using var cri = daemon.Connect();

            // crictl pull busybox
            await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = new V1.ImageSpec { Image = "busybox" } }, deadline: PodTestSupport.Deadline());

            var pod = Json.Parse<V1.PodSandboxConfig>(File.ReadAllText(Path.Combine(repo, "hack", "examples", "pod.json")));
            pod.LogDirectory = dir.Combine("logs");
            var container = Json.Parse<V1.ContainerConfig>(File.ReadAllText(Path.Combine(repo, "hack", "examples", "container.json")));
            var podId = (await cri.Runtime.RunPodSandboxAsync(new V1.RunPodSandboxRequest { Config = pod }, deadline: PodTestSupport.Deadline())).PodSandboxId;
            var id = (await cri.Runtime.CreateContainerAsync(
                new V1.CreateContainerRequest { PodSandboxId = podId, Config = container, SandboxConfig = pod }, deadline: PodTestSupport.Deadline())).ContainerId;
            await cri.Runtime.StartContainerAsync(new V1.StartContainerRequest { ContainerId = id }, deadline: PodTestSupport.Deadline());

            var log = Path.Combine(pod.LogDirectory, container.LogPath);
            await PodTestSupport.WaitForLogAsync(
                log, l => l.Contains(" stdout F hello from a pod VM\n", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "hello line");

            var uname = await cri.Runtime.ExecSyncAsync(new V1.ExecSyncRequest { ContainerId = id, Cmd = { "uname", "-a" }, Timeout = 30 }, deadline: PodTestSupport.Deadline());
            Assert.Equal(0, uname.ExitCode);
            Assert.StartsWith("Linux hello ", uname.Stdout.ToStringUtf8(), StringComparison.Ordinal);

            await cri.Runtime.StopContainerAsync(new V1.StopContainerRequest { ContainerId = id, Timeout = 2 }, deadline: PodTestSupport.Deadline());
            await cri.Runtime.RemoveContainerAsync(new V1.RemoveContainerRequest { ContainerId = id }, deadline: PodTestSupport.Deadline());
            await cri.Runtime.StopPodSandboxAsync(new V1.StopPodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
            await cri.Runtime.RemovePodSandboxAsync(new V1.RemovePodSandboxRequest { PodSandboxId = podId }, deadline: PodTestSupport.Deadline());
            Assert.Empty((await cri.Runtime.ListPodSandboxAsync(new V1.ListPodSandboxRequest(), deadline: PodTestSupport.Deadline())).Items);
        }
        finally
        {
            var pidFile = Path.Combine(registryDir, "registry.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    Process.GetProcessById(pid).Kill();
                }
                catch (ArgumentException)
                {
                    // Already gone.
                }
            }
        }
    }

    private static async Task<string> RunAsync(string script, int port, string registryDir)
    {
        var start = new ProcessStartInfo(script) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["LIGHTVM_REGISTRY_DIR"] = registryDir;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"{script} exited {process.ExitCode}:\n{await stderr}");
        return await stdout;
    }
}
