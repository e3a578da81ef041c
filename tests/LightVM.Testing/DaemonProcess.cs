using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace LightVM.Testing;

/// <summary>
/// The real <c>lightvm-cri</c> daemon as a child process, on a socket and state directories of its own. Tests talk
/// to it through <see cref="CriClient"/> exactly as kubelet would.
/// </summary>
public sealed partial class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();

    private DaemonProcess(Process process, string socketPath)
    {
        _process = process;
        SocketPath = socketPath;
    }

    public string SocketPath { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the daemon printed so far (stdout and stderr).</summary>
    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The standard arguments that put a daemon's socket and state under <paramref name="root"/>.</summary>
    public static string[] ArgsFor(string root) =>
    [
        "--state.root", Path.Combine(root, "state"),
        "--state.run_root", Path.Combine(root, "run"),
        "--cri.listen", Path.Combine(root, "run", "cri.sock"),
    ];

    /// <summary>Starts the daemon and waits until its socket accepts connections.</summary>
    public static async Task<DaemonProcess> StartAsync(string root, IEnumerable<string>? extraArgs = null, TimeSpan? timeout = null)
    {
        var args = ArgsFor(root).Concat(extraArgs ?? []).ToArray();
        var daemon = Launch(args, Path.Combine(root, "run", "cri.sock"));
        await daemon.WaitForSocketAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return daemon;
    }

    /// <summary>Starts the daemon with exactly <paramref name="args"/> and does not wait for it.</summary>
    public static DaemonProcess Launch(IEnumerable<string> args, string socketPath)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DaemonDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var daemon = new DaemonProcess(process, socketPath);
        process.OutputDataReceived += (_, e) => daemon.Append(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>Runs the daemon binary to completion (for command-line checks) and returns exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        var daemon = Launch(args, string.Empty);
        using var cts = new CancellationTokenSource(timeout);
        await daemon._process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        return (daemon._process.ExitCode, daemon.Output);
    }

    /// <summary>Path of the daemon assembly, copied next to the tests by the project reference.</summary>
    public static string DaemonDll
    {
        get
        {
            var fromEnv = Environment.GetEnvironmentVariable("LIGHTVM_CRI_DLL");
            if (!string.IsNullOrEmpty(fromEnv))
            {
                return fromEnv;
            }

            var path = Path.Combine(AppContext.BaseDirectory, "lightvm-cri.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("lightvm-cri.dll is not next to the tests", path);
        }
    }

    public CriClient Connect() => new(SocketPath);

    /// <summary>Sends a signal (default SIGTERM) and waits for the process to exit.</summary>
    public async Task<int> StopAsync(int signal = 15, TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, signal);
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync(timeout: TimeSpan.FromSeconds(20)).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    private async Task WaitForSocketAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"lightvm-cri exited with {_process.ExitCode} before serving:\n{Output}");
            }

            if (File.Exists(SocketPath) || Directory.Exists(Path.GetDirectoryName(SocketPath)))
            {
                using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await probe.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath)).ConfigureAwait(false);
                    // The socket listens before the server runs, and the server answers Status before start-up work
                    // is done: wait until RuntimeReady no longer says the daemon is starting, as kubelet would.
                    using var client = Connect();
                    var status = await client.Runtime.StatusAsync(new LightVM.Protos.Cri.V1.StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ConfigureAwait(false);
                    if (status.Status.Conditions.Any(c => c.Type == "RuntimeReady" && c.Reason == "RuntimeStarting"))
                    {
                        await Task.Delay(50).ConfigureAwait(false);
                        continue;
                    }

                    return;
                }
                catch (SocketException)
                {
                    // Not listening yet.
                }
                catch (Grpc.Core.RpcException)
                {
                    // Listening, not serving yet.
                }
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        throw new TimeoutException($"lightvm-cri did not serve {SocketPath} within {timeout}:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_outputLock)
        {
            _output.AppendLine(line);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
