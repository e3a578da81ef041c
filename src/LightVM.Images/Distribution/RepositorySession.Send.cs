using System.Net;
using System.Net.Http.Headers;

namespace LightVM.Images.Distribution;

internal sealed partial class RepositorySession
{
    /// <summary>Sends to each endpoint in turn (the one that last worked first) until one answers with success.</summary>
    private async Task<(HttpResponseMessage Response, RegistryEndpoint Endpoint)> SendToAnyAsync(
        string what, Func<RegistryEndpoint, HttpRequestMessage> make, CancellationToken cancellationToken, CancellationTokenSource? idle = null)
    {
        RegistryEndpoint? preferred;
        lock (_lock)
        {
            preferred = _preferred;
        }

        var order = preferred is null ? _endpoints : [preferred, .. _endpoints.Where(e => e != preferred)];
        var failures = new List<string>();
        ImageException? last = null;
        for (var i = 0; i < order.Count; i++)
        {
            var endpoint = order[i];
            try
            {
                var response = await SendAsync(endpoint, what, make, cancellationToken, idle).ConfigureAwait(false);
                lock (_lock)
                {
                    _preferred ??= endpoint;
                }

                return (response, endpoint);
            }
            catch (ImageException e)
            {
                failures.Add($"{endpoint}: {e.Message}");
                last = e;
                if (i + 1 < order.Count)
                {
                    ImagesLog.EndpointFailed(_client.Logger, _image.ToString(), endpoint.ToString(), e.Message);
                }
            }
        }

        throw new ImageException(last!.Kind, $"pulling {_image}: {what}: {string.Join("; ", failures)}", last);
    }

    /// <summary>One endpoint, with authentication and retries of transient failures.</summary>
    private async Task<HttpResponseMessage> SendAsync(
        RegistryEndpoint endpoint,
        string what,
        Func<RegistryEndpoint, HttpRequestMessage> make,
        CancellationToken cancellationToken,
        CancellationTokenSource? idle)
    {
        var options = _client.Options;
        var attempts = options.PullRetries + 1;
        var authenticated = false;
        var timeout = TimeSpan.FromSeconds(options.RequestTimeoutSeconds);
        for (var attempt = 1; ; attempt++)
        {
            using var own = idle is null ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : null;
            var timer = idle ?? own!;
            timer.CancelAfter(timeout);
            string reason;
            using (var request = make(endpoint))
            {
                AuthenticationHeaderValue? authorization;
                lock (_lock)
                {
                    _authorization.TryGetValue(endpoint.Authority, out authorization);
                }

                request.Headers.Authorization = authorization;
                HttpResponseMessage response;
                try
                {
                    response = await _client.ClientFor(endpoint)
                        .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timer.Token).ConfigureAwait(false);
                }
                catch (HttpRequestException e) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = Describe(e);
                    if (!IsRetryable(e) || attempt >= attempts)
                    {
                        throw new ImageException(ImageErrorKind.Unavailable, reason, e);
                    }

                    await DelayAsync(what, endpoint, attempt, attempts, reason, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    reason = $"no answer within {options.RequestTimeoutSeconds} s";
                    // A caller-owned idle timer cannot be re-armed once fired; the caller retries the whole transfer.
                    if (attempt >= attempts || idle is not null)
                    {
                        throw new ImageException(ImageErrorKind.Unavailable, reason, e);
                    }

                    await DelayAsync(what, endpoint, attempt, attempts, reason, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var status = response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }

                var challenges = Challenge.From(response);
                response.Dispose();
                switch (status)
                {
                    case HttpStatusCode.Unauthorized when !authenticated:
                        var credentials = CredentialsFor(endpoint);
                        var header = await _client.Authenticator.AuthorizeAsync(
                            endpoint, challenges, _image.Path, credentials, refresh: authorization is not null, cancellationToken).ConfigureAwait(false);
                        lock (_lock)
                        {
                            _authorization[endpoint.Authority] = header;
                        }

                        authenticated = true;
                        attempt--;
                        continue;
                    case HttpStatusCode.Unauthorized:
                        throw new ImageException(ImageErrorKind.Unauthenticated, $"{what}: the registry rejected our credentials (401)");
                    case HttpStatusCode.Forbidden:
                        throw new ImageException(ImageErrorKind.PermissionDenied, $"{what}: access denied (403)");
                    case HttpStatusCode.NotFound:
                        throw new ImageException(ImageErrorKind.NotFound, $"{what}: not found");
                    case HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError:
                        reason = $"{(int)status} {status}";
                        if (attempt >= attempts)
                        {
                            throw new ImageException(ImageErrorKind.Unavailable, $"{what}: registry answered {reason}");
                        }

                        await DelayAsync(what, endpoint, attempt, attempts, reason, cancellationToken).ConfigureAwait(false);
                        continue;
                    default:
                        throw new ImageException(ImageErrorKind.Unavailable, $"{what}: registry answered {(int)status} {status}");
                }
            }
        }
    }

    private Credentials CredentialsFor(RegistryEndpoint endpoint) =>
        endpoint.IsMirror && endpoint.Credentials is { Username.Length: > 0 } or { IdentityToken.Length: > 0 }
            ? Credentials.From(null, endpoint.Credentials)
            : Credentials.From(_auth, endpoint.IsMirror ? null : endpoint.Credentials);

    private async Task DelayAsync(string what, RegistryEndpoint endpoint, int attempt, int attempts, string reason, CancellationToken cancellationToken)
    {
        var delay = RetryDelay(_client.Options, attempt);
        ImagesLog.Retrying(_client.Logger, $"pulling {_image}: {what} from {endpoint}", attempt, attempts, reason, delay);
        await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Exponential backoff: the configured delay, doubled per attempt, capped at 30 s.</summary>
    internal static int RetryDelay(ImagesOptions options, int attempt) =>
        (int)Math.Min(30_000, options.RetryDelayMilliseconds * Math.Pow(2, attempt - 1));

    private static bool IsRetryable(HttpRequestException e) =>
        e.HttpRequestError is not (HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
            or HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.UserAuthenticationError);

    internal static string Describe(Exception e)
    {
        var message = e.Message;
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (!message.Contains(inner.Message, StringComparison.Ordinal))
            {
                message += $" ({inner.Message})";
            }
        }

        return message;
    }
}
