using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using LightVM.Agent.Protocol.Client;

namespace LightVM.Agent.Tests.Agent;

/// <summary>
/// Runs the real lightvm-agent (see <see cref="GuestBinaries"/>) on this host with a unix-socket channel. Containers get busybox rootfs
/// directories made in a temp dir. Needs root (namespaces, mounts).
/// </summary>
public sealed class AgentFixture : IAsyncLifetime
{
    private readonly StringBuilder _agentLog = new();
    private readonly List<AgentProcess> _agents = [];
    private readonly List<int> _processGroups = [];
    private int _rootfsCount;

    public string BinaryDirectory { get; private set; } = string.Empty;

    public string WorkDirectory { get; } = Directory.CreateTempSubdirectory("lightvm-agent-tests-").FullName;

    public AgentProcess Agent { get; private set; } = null!;

    public string AgentLog
    {
        get
        {
            lock (_agentLog)
            {
                return _agentLog.ToString();
            }
        }
    }

    public async Task InitializeAsync()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("the agent tests run the real agent and need root (namespaces, mounts)");
        }

        BinaryDirectory = await GuestBinaries.DirectoryAsync();
        Agent = await StartAgentAsync("main");
    }

    /// <summary>Starts another agent (e.g. with other options); stopped with the fixture.</summary>
    public async Task<AgentProcess> StartAgentAsync(string name, params string[] extraArgs)
    {
        var socket = Path.Combine(WorkDirectory, $"{name}.sock");
        var start = new ProcessStartInfo(Path.Combine(BinaryDirectory, "lightvm-agent"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[] { "--channel", $"unix:{socket}", "--exec-helper", Path.Combine(BinaryDirectory, "lightvm-exec"), "--log-level", "debug" }.Concat(extraArgs))
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start lightvm-agent");
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_agentLog)
            {
                _agentLog.Append('[').Append(name).Append("] ").AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        var agent = new AgentProcess(process, socket);
        _agents.Add(agent);
        for (var i = 0; i < 100 && !File.Exists(socket); i++)
        {
            await Task.Delay(50);
        }

        return File.Exists(socket) ? agent : throw new InvalidOperationException($"agent {name} did not listen on {socket}:\n{AgentLog}");
    }

    /// <summary>Remembers a container's main pid so its process group is killed when the tests end.</summary>
    public void Track(uint pid)
    {
        lock (_processGroups)
        {
            _processGroups.Add((int)pid);
        }
    }

    /// <summary>A fresh busybox root filesystem.</summary>
    public string CreateRootfs() => CreateRootfs(Path.Combine(WorkDirectory, $"rootfs-{Interlocked.Increment(ref _rootfsCount)}"));

    /// <summary>A busybox root filesystem at <paramref name="root"/>.</summary>
    public static string CreateRootfs(string root)
    {
        foreach (var dir in new[] { "bin", "tmp", "etc", "proc", "sys", "dev" })
        {
            Directory.CreateDirectory(Path.Combine(root, dir));
        }

        File.Copy("/bin/busybox", Path.Combine(root, "bin", "busybox"));
        foreach (var applet in Applets.Value)
        {
            var link = Path.Combine(root, "bin", applet);
            if (applet != "busybox" && !File.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }

        return root;
    }

    public static readonly Lazy<string[]> Applets = new(() =>
    {
        using var list = Process.Start(new ProcessStartInfo("/bin/busybox", "--list") { RedirectStandardOutput = true })!;
        var names = list.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        list.WaitForExit();
        return names;
    });

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            agent.Stop();
        }

        lock (_processGroups)
        {
            foreach (var group in _processGroups)
            {
                using var kill = Process.Start("kill", ["-KILL", "--", $"-{group}"]);
                kill.WaitForExit();
            }
        }

        await Task.Delay(100);
        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A container's mount namespace may still be tearing down; the temp dir is cleaned by the OS.
        }
    }
}

/// <summary>A running lightvm-agent and how to reach it.</summary>
public sealed class AgentProcess
{
    public AgentProcess(Process process, string socketPath)
    {
        Process = process;
        SocketPath = socketPath;
    }

    public Process Process { get; }

    public string SocketPath { get; }

    public AgentClient CreateClient(string name = "test-vm") =>
        new(ConnectAsync, new AgentClientOptions { Name = name, HandshakeTimeout = TimeSpan.FromSeconds(10) });

    private async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Stop()
    {
        if (!Process.HasExited)
        {
            Process.Kill();
            Process.WaitForExit(5000);
        }
    }
}
