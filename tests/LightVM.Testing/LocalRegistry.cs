using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace LightVM.Testing;

/// <summary>
/// Debian's <c>docker-registry</c> (distribution 2.x) on 127.0.0.1 with a free port and a temp storage directory,
/// optionally behind htpasswd basic auth. Can be stopped and started again on the same port and storage.
/// </summary>
public class LocalRegistry : IAsyncDisposable
{
    private const string Binary = "/usr/bin/docker-registry";
    private readonly string _dir;
    private Process? _process;

    public LocalRegistry(string? username = null, string? password = null)
    {
        Username = username;
        Password = password;
        _dir = Directory.CreateTempSubdirectory("lightvm-registry-").FullName;
        Port = FreePort();
    }

    /// <summary>Port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:port</c>, the registry host part of image names.</summary>
    public string Host => $"127.0.0.1:{Port}";

    /// <summary><c>http://127.0.0.1:port</c>.</summary>
    public Uri Url => new($"http://{Host}");

    public string? Username { get; }

    public string? Password { get; }

    /// <summary>Pushes images into this registry (with its credentials).</summary>
    public RegistryPusher Pusher => new(Url, Username, Password);

    /// <summary>Starts the registry and waits until it answers.</summary>
    public async Task StartAsync()
    {
        if (_process is { HasExited: false })
        {
            return;
        }

        var storage = Path.Combine(_dir, "storage");
        Directory.CreateDirectory(storage);
        var auth = "";
        if (Username is not null)
        {
            var htpasswd = Path.Combine(_dir, "htpasswd");
            await Run("/usr/bin/htpasswd", ["-Bbc", htpasswd, Username, Password ?? ""]);
            auth = $"auth:\n  htpasswd:\n    realm: lightvm-test\n    path: {htpasswd}\n";
        }

        var config = Path.Combine(_dir, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {storage}
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{Port}
            {auth}
            """);
        var info = new ProcessStartInfo(Binary, ["serve", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("cannot start docker-registry");
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(Url, "/v2/"));
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
            }

            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"docker-registry on {Host} did not start (exit {(_process.HasExited ? _process.ExitCode : -1)})");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Kills the registry (as a crash would); <see cref="StartAsync"/> brings it back with the same content.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>A port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task Run(string file, string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} failed: {await p.StandardError.ReadToEndAsync()}");
        }
    }
}

/// <summary>An xunit class fixture: one anonymous registry shared by a test class.</summary>
public sealed class RegistryFixture : LocalRegistry, IAsyncLifetime
{
    public Task InitializeAsync() => StartAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}

/// <summary>An xunit class fixture: a registry behind htpasswd basic auth (user <c>puller</c>, password <c>s3cret</c>).</summary>
public sealed class BasicAuthRegistryFixture : LocalRegistry, IAsyncLifetime
{
    public const string User = "puller";
    public const string Secret = "s3cret";

    public BasicAuthRegistryFixture()
        : base(User, Secret)
    {
    }

    public Task InitializeAsync() => StartAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();
}
