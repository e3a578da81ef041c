using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using Microsoft.Extensions.Logging;

namespace LightVM.Images.Distribution;

/// <summary>
/// The daemon-wide HTTP side of pulling: two connection pools (verifying TLS, and not verifying for hosts configured
/// insecure), the token cache, and the retry policy. <see cref="Open"/> gives a session for one image.
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private readonly HttpClient _secure;
    private readonly HttpClient _insecure;
    private readonly RegistryHosts _hosts;

    public RegistryClient(ImagesOptions options, HttpMessageHandler? handler, ILogger logger, TimeProvider time)
    {
        Options = options;
        Logger = logger;
        _hosts = new RegistryHosts(options);
        if (handler is not null)
        {
            _secure = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
            _insecure = _secure;
        }
        else
        {
            _secure = new HttpClient(CreateHandler(verifyTls: true)) { Timeout = Timeout.InfiniteTimeSpan };
            _insecure = new HttpClient(CreateHandler(verifyTls: false)) { Timeout = Timeout.InfiniteTimeSpan };
        }

        Authenticator = new RegistryAuthenticator(ClientFor, time);
    }

    public ImagesOptions Options { get; }

    public ILogger Logger { get; }

    public RegistryAuthenticator Authenticator { get; }

    public HttpClient ClientFor(RegistryEndpoint endpoint) => endpoint.SkipTlsVerify ? _insecure : _secure;

    /// <summary>A session pulling <paramref name="image"/> with <paramref name="auth"/> (or configured credentials).</summary>
    public RepositorySession Open(ImageReference image, RegistryAuth? auth) =>
        new(this, image, _hosts.For(image.Domain), auth);

    public void Dispose()
    {
        _secure.Dispose();
        if (!ReferenceEquals(_secure, _insecure))
        {
            _insecure.Dispose();
        }
    }

    private static SocketsHttpHandler CreateHandler(bool verifyTls)
    {
        var handler = new SocketsHttpHandler
        {
            AutomaticDecompression = DecompressionMethods.None,
            // Redirects (blob storage) are followed; .NET drops the Authorization header when it follows one.
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            UseProxy = true,
        };
        if (!verifyTls)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = static (_, _, _, _) => true,
            };
        }

        return handler;
    }
}

/// <summary>A manifest as fetched: its bytes, media type and digest, and who served it.</summary>
internal sealed record FetchedManifest(byte[] Content, string MediaType, string Digest, RegistryEndpoint Endpoint);

/// <summary>
/// Pulls the blobs and manifests of one repository: tries the endpoints in order (mirrors first), answers
/// authentication challenges, and retries transient failures (connection errors, timeouts, 429, 5xx).
/// </summary>
internal sealed partial class RepositorySession
{
    private const int MaxManifestBytes = 4 * 1024 * 1024;
    private readonly RegistryClient _client;
    private readonly ImageReference _image;
    private readonly IReadOnlyList<RegistryEndpoint> _endpoints;
    private readonly RegistryAuth? _auth;
    private readonly Dictionary<string, AuthenticationHeaderValue> _authorization = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private RegistryEndpoint? _preferred;

    internal RepositorySession(RegistryClient client, ImageReference image, IReadOnlyList<RegistryEndpoint> endpoints, RegistryAuth? auth)
    {
        _client = client;
        _image = image;
        _endpoints = endpoints;
        _auth = auth;
    }

    /// <summary>Fetches the manifest or index <paramref name="reference"/> (a tag or digest).</summary>
    public async Task<FetchedManifest> GetManifestAsync(string reference, CancellationToken cancellationToken)
    {
        var (response, endpoint) = await SendToAnyAsync(
            $"manifest {reference}",
            ep =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, ep.Url($"v2/{_image.Path}/manifests/{reference}"));
                foreach (var type in MediaTypes.ManifestAccept)
                {
                    request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
                }

                return request;
            },
            cancellationToken).ConfigureAwait(false);
        using (response)
        {
            if (response.Content.Headers.ContentLength > MaxManifestBytes)
            {
                throw new ImageException(ImageErrorKind.FailedPrecondition, $"{What(endpoint)}: manifest {reference} is larger than {MaxManifestBytes} bytes");
            }

            var content = await ReadLimitedAsync(response.Content, MaxManifestBytes, cancellationToken).ConfigureAwait(false);
            var digest = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
            if (reference.StartsWith("sha256:", StringComparison.Ordinal) && digest != reference)
            {
                throw new ImageException(ImageErrorKind.FailedPrecondition, $"{What(endpoint)}: manifest {reference} has digest {digest}");
            }

            var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
            return new FetchedManifest(content, mediaType, digest, endpoint);
        }
    }

    /// <summary>Starts fetching blob <paramref name="digest"/>; the caller reads the body and disposes the response.</summary>
    /// <param name="digest">The blob.</param>
    /// <param name="idle">Cancelled when the registry goes quiet; the caller re-arms it while reading.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public async Task<HttpResponseMessage> GetBlobAsync(string digest, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        var (response, _) = await SendToAnyAsync(
            $"blob {digest}",
            ep => new HttpRequestMessage(HttpMethod.Get, ep.Url($"v2/{_image.Path}/blobs/{digest}")),
            cancellationToken,
            idle).ConfigureAwait(false);
        return response;
    }

    /// <summary>Where blob bytes come from, for messages.</summary>
    public string BlobSource => What(_preferred ?? _endpoints[^1]);

    private string What(RegistryEndpoint endpoint) => $"pulling {_image} from {endpoint}";

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new ImageException(ImageErrorKind.FailedPrecondition, $"manifest larger than {limit} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
