using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LightVM.Images.Distribution;

/// <summary>Credentials for one endpoint, merged from the pull request and the config.</summary>
internal sealed record Credentials(string Username, string Password, string IdentityToken, string RegistryToken)
{
    public static readonly Credentials None = new("", "", "", "");

    public bool HasPassword => Username.Length > 0;

    public static Credentials From(RegistryAuth? auth, RegistryHostOptions? config)
    {
        if (auth is { IsEmpty: false })
        {
            var (user, password) = (auth.Username, auth.Password);
            if (user.Length == 0 && auth.Auth.Length > 0)
            {
                var decoded = DecodeAuth(auth.Auth);
                var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0)
                {
                    (user, password) = (decoded[..colon], decoded[(colon + 1)..]);
                }
            }

            return new Credentials(user, password, auth.IdentityToken, auth.RegistryToken);
        }

        return config is null ? None : new Credentials(config.Username, config.Password, config.IdentityToken, "");
    }

    private static string DecodeAuth(string auth)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(auth));
        }
        catch (FormatException)
        {
            throw new ImageException(ImageErrorKind.InvalidArgument, "auth: the 'auth' field is not base64 of user:password");
        }
    }
}

/// <summary>One <c>WWW-Authenticate</c> challenge.</summary>
internal sealed record Challenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>Parses every challenge of a 401 response.</summary>
    public static IReadOnlyList<Challenge> From(HttpResponseMessage response) =>
        response.Headers.WwwAuthenticate.Select(h => new Challenge(h.Scheme, ParseParameters(h.Parameter ?? ""))).ToList();

    /// <summary>Parses <c>key="value", key=token</c> lists; quoted values may hold commas and escaped quotes.</summary>
    public static Dictionary<string, string> ParseParameters(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && (text[i] == ',' || char.IsWhiteSpace(text[i])))
            {
                i++;
            }

            var eq = text.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            var key = text[i..eq].Trim();
            i = eq + 1;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '"')
            {
                i++;
                while (i < text.Length && text[i] != '"')
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    value.Append(text[i++]);
                }

                i++;
            }
            else
            {
                while (i < text.Length && text[i] != ',')
                {
                    value.Append(text[i++]);
                }
            }

            result[key] = value.ToString().Trim();
        }

        return result;
    }
}

/// <summary>
/// Answers registry challenges: basic auth from credentials, or bearer tokens from the realm named in the challenge
/// (anonymous, with basic credentials, or by trading an identity/refresh token). Tokens are cached until they expire.
/// </summary>
internal sealed class RegistryAuthenticator
{
    private static readonly TimeSpan MinimumLifetime = TimeSpan.FromSeconds(60);
    private readonly Func<RegistryEndpoint, HttpClient> _clients;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);

    public RegistryAuthenticator(Func<RegistryEndpoint, HttpClient> clients, TimeProvider time)
    {
        _clients = clients;
        _time = time;
    }

    /// <summary>Returns the Authorization header answering <paramref name="challenges"/>.</summary>
    /// <exception cref="ImageException">Unauthenticated or PermissionDenied when no answer can be had.</exception>
    public async Task<AuthenticationHeaderValue> AuthorizeAsync(
        RegistryEndpoint endpoint,
        IReadOnlyList<Challenge> challenges,
        string repository,
        Credentials credentials,
        bool refresh,
        CancellationToken cancellationToken)
    {
        var bearer = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase));
        if (bearer is not null)
        {
            if (credentials.RegistryToken.Length > 0)
            {
                return new AuthenticationHeaderValue("Bearer", credentials.RegistryToken);
            }

            var token = await GetTokenAsync(endpoint, bearer, repository, credentials, refresh, cancellationToken).ConfigureAwait(false);
            return new AuthenticationHeaderValue("Bearer", token);
        }

        if (challenges.Any(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)))
        {
            if (!credentials.HasPassword)
            {
                throw new ImageException(
                    ImageErrorKind.Unauthenticated,
                    $"{endpoint} requires basic authentication and no credentials are configured or given for it");
            }

            return new AuthenticationHeaderValue("Basic", Basic(credentials));
        }

        throw new ImageException(
            ImageErrorKind.Unauthenticated,
            $"{endpoint} asks for authentication with an unsupported scheme ({string.Join(", ", challenges.Select(c => c.Scheme))})");
    }

    private async Task<string> GetTokenAsync(
        RegistryEndpoint endpoint, Challenge challenge, string repository, Credentials credentials, bool refresh, CancellationToken cancellationToken)
    {
        if (!challenge.Parameters.TryGetValue("realm", out var realmText)
            || !Uri.TryCreate(realmText, UriKind.Absolute, out var realm)
            || (realm.Scheme != Uri.UriSchemeHttps && realm.Scheme != Uri.UriSchemeHttp))
        {
            throw new ImageException(ImageErrorKind.Unavailable, $"{endpoint} sent a bearer challenge without a usable realm");
        }

        challenge.Parameters.TryGetValue("service", out var service);
        var scope = challenge.Parameters.TryGetValue("scope", out var s) && s.Length > 0 ? s : $"repository:{repository}:pull";
        var key = $"{realm}|{service}|{scope}|{credentials.Username}|{credentials.IdentityToken.GetHashCode(StringComparison.Ordinal)}";
        if (!refresh && _tokens.TryGetValue(key, out var cached) && cached.Expires > _time.GetUtcNow())
        {
            return cached.Token;
        }

        using var request = BuildTokenRequest(realm, service, scope, credentials);
        HttpResponseMessage response;
        try
        {
            response = await _clients(endpoint).SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ImageException(ImageErrorKind.Unavailable, $"token server {realm.GetLeftPart(UriPartial.Path)} for {endpoint}: {e.Message}", e);
        }

        using (response)
        {
            var what = $"token server {realm.GetLeftPart(UriPartial.Path)} (scope {scope})";
            switch (response.StatusCode)
            {
                case HttpStatusCode.Unauthorized:
                    throw new ImageException(ImageErrorKind.Unauthenticated, $"{what} rejected the credentials for {endpoint}");
                case HttpStatusCode.Forbidden:
                    throw new ImageException(ImageErrorKind.PermissionDenied, $"{what} denied access for {endpoint}");
                case var code when !response.IsSuccessStatusCode:
                    throw new ImageException(ImageErrorKind.Unavailable, $"{what} answered {(int)code} {response.ReasonPhrase}");
            }

            using var json = await JsonDocument.ParseAsync(
                await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            var root = json.RootElement;
            var token = root.TryGetProperty("token", out var t) && t.GetString() is { Length: > 0 } tv ? tv
                : root.TryGetProperty("access_token", out var a) && a.GetString() is { Length: > 0 } av ? av
                : throw new ImageException(ImageErrorKind.Unavailable, $"{what} answered without a token");
            var lifetime = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds)
                ? TimeSpan.FromSeconds(seconds)
                : MinimumLifetime;
            if (lifetime < MinimumLifetime)
            {
                lifetime = MinimumLifetime;
            }

            // Renew a little early so a token does not expire between being handed out and being used.
            _tokens[key] = (token, _time.GetUtcNow() + lifetime - TimeSpan.FromSeconds(10));
            return token;
        }
    }

    private static HttpRequestMessage BuildTokenRequest(Uri realm, string? service, string scope, Credentials credentials)
    {
        if (credentials.IdentityToken.Length > 0)
        {
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = credentials.IdentityToken,
                ["scope"] = scope,
                ["client_id"] = "lightvm",
            };
            if (!string.IsNullOrEmpty(service))
            {
                form["service"] = service;
            }

            return new HttpRequestMessage(HttpMethod.Post, realm) { Content = new FormUrlEncodedContent(form) };
        }

        var query = new StringBuilder(realm.Query.Length > 1 ? realm.Query[1..] + "&" : "");
        if (!string.IsNullOrEmpty(service))
        {
            query.Append("service=").Append(Uri.EscapeDataString(service)).Append('&');
        }

        query.Append("scope=").Append(Uri.EscapeDataString(scope));
        if (credentials.HasPassword)
        {
            query.Append("&account=").Append(Uri.EscapeDataString(credentials.Username));
        }

        var uri = new UriBuilder(realm) { Query = query.ToString() }.Uri;
        var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (credentials.HasPassword)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Basic(credentials));
        }

        return request;
    }

    private static string Basic(Credentials credentials) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}"));
}
