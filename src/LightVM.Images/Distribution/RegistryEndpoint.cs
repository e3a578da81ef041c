using System.Net;

namespace LightVM.Images.Distribution;

/// <summary>One place to pull a registry host's repositories from: a mirror or the upstream itself.</summary>
/// <param name="BaseUri">Scheme, authority and optional path prefix; <c>v2/</c> goes after it.</param>
/// <param name="IsMirror">True for a configured mirror.</param>
/// <param name="SkipTlsVerify">True when the host is configured insecure.</param>
/// <param name="Credentials">Credentials configured for this endpoint's host, if any.</param>
internal sealed record RegistryEndpoint(Uri BaseUri, bool IsMirror, bool SkipTlsVerify, RegistryHostOptions? Credentials)
{
    /// <summary>Host and port, for messages and token caching.</summary>
    public string Authority => BaseUri.Authority;

    public Uri Url(string relative) => new(BaseUri, relative);

    public override string ToString() => IsMirror ? $"mirror {BaseUri.GetLeftPart(UriPartial.Path).TrimEnd('/')}" : BaseUri.GetLeftPart(UriPartial.Path).TrimEnd('/');
}

/// <summary>Turns a registry host of an image name into the ordered endpoints to try, from the options.</summary>
internal sealed class RegistryHosts
{
    private readonly Dictionary<string, RegistryHostOptions> _registries;

    public RegistryHosts(ImagesOptions options)
    {
        _registries = new Dictionary<string, RegistryHostOptions>(StringComparer.OrdinalIgnoreCase);
        foreach (var (host, registry) in options.Registries)
        {
            _registries[host] = registry ?? new RegistryHostOptions();
        }
    }

    /// <summary>Mirrors first, in configured order, then the upstream (HTTPS; plain HTTP for loopback or insecure hosts).</summary>
    public IReadOnlyList<RegistryEndpoint> For(string domain)
    {
        _registries.TryGetValue(domain, out var config);
        var list = new List<RegistryEndpoint>();
        foreach (var mirror in config?.Mirrors ?? [])
        {
            var uri = new Uri(mirror.EndsWith('/') ? mirror : mirror + "/");
            if (uri.AbsolutePath.EndsWith("/v2/", StringComparison.Ordinal))
            {
                uri = new Uri(uri, "..");
            }

            _registries.TryGetValue(uri.Authority, out var mirrorConfig);
            list.Add(new RegistryEndpoint(uri, IsMirror: true, config!.Insecure || mirrorConfig?.Insecure == true, mirrorConfig));
        }

        var host = domain == ImageReference.DockerHubDomain ? "registry-1.docker.io" : domain;
        var insecure = config?.Insecure == true;
        if (IsLoopback(domain))
        {
            list.Add(new RegistryEndpoint(new Uri($"http://{host}/"), false, insecure, config));
        }
        else
        {
            list.Add(new RegistryEndpoint(new Uri($"https://{host}/"), false, insecure, config));
            if (insecure)
            {
                list.Add(new RegistryEndpoint(new Uri($"http://{host}/"), false, true, config));
            }
        }

        return list;
    }

    /// <summary>True for <c>localhost</c>, 127.0.0.0/8 and ::1, with or without a port.</summary>
    public static bool IsLoopback(string domain)
    {
        var host = domain;
        if (host.StartsWith('['))
        {
            var end = host.IndexOf(']', StringComparison.Ordinal);
            host = end > 0 ? host[1..end] : host;
        }
        else if (host.LastIndexOf(':') is var colon and > 0)
        {
            host = host[..colon];
        }

        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }
}
