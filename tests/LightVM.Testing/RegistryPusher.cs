using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace LightVM.Testing;

/// <summary>Pushes blobs and manifests with the distribution API (monolithic or chunked uploads).</summary>
public sealed class RegistryPusher
{
    private const int ChunkSize = 1024 * 1024;
    private readonly Uri _registry;
    private readonly AuthenticationHeaderValue? _auth;

    public RegistryPusher(Uri registry, string? username = null, string? password = null)
    {
        _registry = registry;
        if (username is not null)
        {
            _auth = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}")));
        }
    }

    /// <summary>Pushes the image's blobs and its manifest as <paramref name="reference"/> (a tag or the digest).</summary>
    public async Task PushAsync(string repository, string reference, BuiltImage image, bool chunked = false)
    {
        foreach (var layer in image.Layers)
        {
            await PushBlobAsync(repository, layer.Blob, layer.Digest, chunked);
        }

        await PushBlobAsync(repository, image.Config, image.ConfigDigest, chunked);
        await PushManifestAsync(repository, reference, image.Manifest, image.ManifestMediaType);
    }

    /// <summary>Pushes every image of the index by digest, then the index as <paramref name="reference"/>.</summary>
    public async Task PushIndexAsync(string repository, string reference, BuiltIndex index)
    {
        foreach (var (image, _, _, _) in index.Images)
        {
            await PushAsync(repository, image.ManifestDigest, image);
        }

        await PushManifestAsync(repository, reference, index.Content, index.MediaType);
    }

    public async Task PushBlobAsync(string repository, byte[] blob, string digest, bool chunked = false)
    {
        using var http = Client();
        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"v2/{repository}/blobs/{digest}")))
        {
            if (head.StatusCode == HttpStatusCode.OK)
            {
                return;
            }
        }

        using var start = await http.PostAsync($"v2/{repository}/blobs/uploads/", null);
        Check(start, HttpStatusCode.Accepted, "start upload");
        var location = Location(start);
        if (chunked)
        {
            for (var offset = 0; offset < blob.Length; offset += ChunkSize)
            {
                var length = Math.Min(ChunkSize, blob.Length - offset);
                using var content = new ByteArrayContent(blob, offset, length);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + length - 1}");
                using var patch = await http.PatchAsync(location, content);
                Check(patch, HttpStatusCode.Accepted, "upload chunk");
                location = Location(patch);
            }

            using var done = await http.PutAsync(WithDigest(location, digest), null);
            Check(done, HttpStatusCode.Created, "finish upload");
        }
        else
        {
            using var content = new ByteArrayContent(blob);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var put = await http.PutAsync(WithDigest(location, digest), content);
            Check(put, HttpStatusCode.Created, "upload blob");
        }
    }

    public async Task PushManifestAsync(string repository, string reference, byte[] manifest, string mediaType)
    {
        using var http = Client();
        using var content = new ByteArrayContent(manifest);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var put = await http.PutAsync($"v2/{repository}/manifests/{reference}", content);
        Check(put, HttpStatusCode.Created, $"put manifest {repository}:{reference}");
    }

    private HttpClient Client()
    {
        var http = new HttpClient { BaseAddress = _registry, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = _auth;
        return http;
    }

    private Uri Location(HttpResponseMessage response) =>
        response.Headers.Location is { } l ? (l.IsAbsoluteUri ? l : new Uri(_registry, l)) : throw new InvalidOperationException("upload without Location");

    private static Uri WithDigest(Uri location, string digest) =>
        new(location + (location.Query.Length > 0 ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest));

    private static void Check(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException($"{what}: registry answered {(int)response.StatusCode} {response.ReasonPhrase}: {response.Content.ReadAsStringAsync().Result}");
        }
    }
}
