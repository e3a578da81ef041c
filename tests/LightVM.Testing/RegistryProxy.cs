using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LightVM.Testing;

/// <summary>
/// A Kestrel reverse proxy in front of a <see cref="LocalRegistry"/> on 127.0.0.1 that counts requests, can cut blob
/// responses after N bytes (as a dying registry or network would), and can demand bearer tokens from a token
/// endpoint it serves itself (<c>/token</c>), so the client's real token flow is exercised.
/// </summary>
public sealed class RegistryProxy : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _backend;
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private int _tokenRequests;
    private int _cuts;

    private RegistryProxy(WebApplication app, Uri backend)
    {
        _app = app;
        _backend = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = backend, Timeout = TimeSpan.FromMinutes(5) };
    }

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Host { get; private set; } = "";

    public Uri Url => new($"http://{Host}");

    /// <summary>When set, blob responses are cut (connection aborted) after this many body bytes.</summary>
    public long? CutBlobsAfterBytes { get; set; }

    /// <summary>How many blob responses to cut (only responses longer than the limit count) before passing them whole again.</summary>
    public int CutsAllowed { get; set; } = int.MaxValue;

    /// <summary>When set, /v2/ wants a bearer token from <c>/token</c>; null user means anonymous tokens.</summary>
    public TokenPolicy? Token { get; set; }

    /// <summary>Token requests answered (successfully or not).</summary>
    public int TokenRequests => _tokenRequests;

    /// <summary>Responses cut so far.</summary>
    public int Cuts => _cuts;

    /// <summary>How many GETs hit each path (<c>/v2/…/blobs/sha256:…</c>).</summary>
    public int Count(string path) => _counts.GetValueOrDefault(path);

    /// <summary>Paths and request counts.</summary>
    public IReadOnlyDictionary<string, int> Counts => _counts;

    public static async Task<RegistryProxy> StartAsync(Uri backend)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var proxy = new RegistryProxy(app, backend);
        app.Run(proxy.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        proxy.Host = new Uri(address).Authority;
        return proxy;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _backend.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        _counts.AddOrUpdate(path, 1, (_, n) => n + 1);
        if (path == "/token")
        {
            await IssueTokenAsync(context);
            return;
        }

        if (Token is not null && !Authorized(context.Request))
        {
            var repository = path.StartsWith("/v2/", StringComparison.Ordinal) && path.LastIndexOf("/manifests/", StringComparison.Ordinal) is var m and > 0
                ? path[4..m]
                : path.LastIndexOf("/blobs/", StringComparison.Ordinal) is var b and > 4 ? path[4..b] : "";
            context.Response.StatusCode = 401;
            context.Response.Headers.WWWAuthenticate =
                $"Bearer realm=\"http://{Host}/token\",service=\"lightvm-test\",scope=\"repository:{repository}:pull\"";
            return;
        }

        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path + context.Request.QueryString);
        foreach (var accept in context.Request.Headers.Accept)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await _backend.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (name is "Transfer-Encoding" or "Connection")
            {
                continue;
            }

            context.Response.Headers[name] = values.ToArray();
        }

        var cut = path.Contains("/blobs/", StringComparison.Ordinal) && CutBlobsAfterBytes is { } limit && Volatile.Read(ref _cuts) < CutsAllowed
            ? limit
            : (long?)null;
        await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        var buffer = new byte[64 * 1024];
        long sent = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (cut is { } c && sent + read >= c)
            {
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, (int)(c - sent)), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                Interlocked.Increment(ref _cuts);
                context.Abort();
                return;
            }

            await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
            sent += read;
        }
    }

    private bool Authorized(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) && _tokens.ContainsKey(header[7..]);
    }

    private async Task IssueTokenAsync(HttpContext context)
    {
        Interlocked.Increment(ref _tokenRequests);
        var policy = Token ?? new TokenPolicy(null, null, null);
        var ok = policy.Username is null;
        string? refresh = null;
        if (context.Request.Method == "POST" && context.Request.HasFormContentType)
        {
            var form = await context.Request.ReadFormAsync();
            refresh = form["refresh_token"];
            ok = form["grant_type"] == "refresh_token" && policy.RefreshToken is not null && refresh == policy.RefreshToken;
        }
        else if (context.Request.Headers.Authorization.ToString() is var auth && auth.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth[6..]));
            ok = policy.Username is null || decoded == $"{policy.Username}:{policy.Password}";
        }

        if (!ok)
        {
            context.Response.StatusCode = 401;
            return;
        }

        var token = Guid.NewGuid().ToString("N");
        _tokens[token] = context.Request.Query["scope"].ToString();
        context.Response.ContentType = "application/json";
        var field = refresh is null ? "token" : "access_token";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object> { [field] = token, ["expires_in"] = 300 }));
    }
}

/// <summary>Who the proxy's token endpoint gives tokens to: anyone (null user), a user/password, or a refresh token.</summary>
public sealed record TokenPolicy(string? Username, string? Password, string? RefreshToken);
