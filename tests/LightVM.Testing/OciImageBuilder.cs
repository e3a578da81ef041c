using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LightVM.Testing;

/// <summary>An image ready to push: layers, config and manifest, with their digests.</summary>
public sealed record BuiltImage(IReadOnlyList<Layer> Layers, byte[] Config, string ConfigDigest, byte[] Manifest, string ManifestDigest, string ManifestMediaType)
{
    /// <summary>What the image service reports as the image id.</summary>
    public string Id => ConfigDigest;

    /// <summary>Compressed layers plus config, the size containerd reports.</summary>
    public long Size => Config.LongLength + Layers.Sum(l => l.Size);
}

/// <summary>A multi-platform index and the images it lists.</summary>
public sealed record BuiltIndex(IReadOnlyList<(BuiltImage Image, string Os, string Architecture, string? Variant)> Images, byte[] Content, string Digest, string MediaType);

/// <summary>Builds OCI (or Docker schema2) image configs, manifests and indexes around layers.</summary>
public sealed class OciImageBuilder
{
    private readonly List<Layer> _layers;

    public OciImageBuilder(params Layer[] layers)
    {
        _layers = [.. layers];
    }

    public string Architecture { get; init; } = "amd64";

    public string Os { get; init; } = "linux";

    public string? User { get; init; }

    public IReadOnlyList<string> Env { get; init; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyList<string>? Cmd { get; init; } = ["/bin/sh"];

    public string? WorkingDir { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public string? StopSignal { get; init; }

    /// <summary>Use Docker's schema2 media types instead of OCI's.</summary>
    public bool DockerMediaTypes { get; init; }

    /// <summary>Changes the config without changing the layers (gives a distinct image id).</summary>
    public string Comment { get; init; } = "";

    public BuiltImage Build()
    {
        var containerConfig = new JsonObject
        {
            ["Env"] = new JsonArray(Env.Select(e => (JsonNode)e!).ToArray()),
        };
        if (User is not null)
        {
            containerConfig["User"] = User;
        }

        if (Entrypoint is not null)
        {
            containerConfig["Entrypoint"] = new JsonArray(Entrypoint.Select(e => (JsonNode)e!).ToArray());
        }

        if (Cmd is not null)
        {
            containerConfig["Cmd"] = new JsonArray(Cmd.Select(e => (JsonNode)e!).ToArray());
        }

        if (WorkingDir is not null)
        {
            containerConfig["WorkingDir"] = WorkingDir;
        }

        if (StopSignal is not null)
        {
            containerConfig["StopSignal"] = StopSignal;
        }

        if (Labels is not null)
        {
            var labels = new JsonObject();
            foreach (var (k, v) in Labels)
            {
                labels[k] = v;
            }

            containerConfig["Labels"] = labels;
        }

        var config = new JsonObject
        {
            ["created"] = "2024-01-02T03:04:05Z",
            ["architecture"] = Architecture,
            ["os"] = Os,
            ["config"] = containerConfig,
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray(_layers.Select(l => (JsonNode)l.DiffId!).ToArray()),
            },
            ["history"] = new JsonArray(new JsonObject { ["comment"] = Comment }),
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var configDigest = LayerBuilder.Digest(configBytes);
        var manifestType = DockerMediaTypes
            ? "application/vnd.docker.distribution.manifest.v2+json"
            : "application/vnd.oci.image.manifest.v1+json";
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = manifestType,
            ["config"] = new JsonObject
            {
                ["mediaType"] = DockerMediaTypes ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
                ["digest"] = configDigest,
                ["size"] = configBytes.Length,
            },
            ["layers"] = new JsonArray(_layers.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = DockerMediaTypes && l.MediaType.EndsWith("gzip", StringComparison.Ordinal)
                    ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                    : l.MediaType,
                ["digest"] = l.Digest,
                ["size"] = l.Size,
            }).ToArray()),
        };
        var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        return new BuiltImage(_layers, configBytes, configDigest, manifestBytes, LayerBuilder.Digest(manifestBytes), manifestType);
    }

    /// <summary>Builds an index listing <paramref name="images"/> with their platforms.</summary>
    public static BuiltIndex Index(bool dockerList, params (BuiltImage Image, string Os, string Architecture, string? Variant)[] images)
    {
        var mediaType = dockerList
            ? "application/vnd.docker.distribution.manifest.list.v2+json"
            : "application/vnd.oci.image.index.v1+json";
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = mediaType,
            ["manifests"] = new JsonArray(images.Select(i =>
            {
                var platform = new JsonObject { ["architecture"] = i.Architecture, ["os"] = i.Os };
                if (i.Variant is not null)
                {
                    platform["variant"] = i.Variant;
                }

                return (JsonNode)new JsonObject
                {
                    ["mediaType"] = i.Image.ManifestMediaType,
                    ["digest"] = i.Image.ManifestDigest,
                    ["size"] = i.Image.Manifest.Length,
                    ["platform"] = platform,
                };
            }).ToArray()),
        };
        var bytes = Encoding.UTF8.GetBytes(index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return new BuiltIndex(images, bytes, LayerBuilder.Digest(bytes), mediaType);
    }
}
