using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LightVM.Images.Distribution;
using LightVM.Images.Unpack;

namespace LightVM.Images;

public sealed partial class ImageManager
{
    private const long MaxConfigBytes = 8 * 1024 * 1024;

    /// <summary>
    /// Pulls <paramref name="reference"/> (resolving a tag, picking linux/amd64 from an index), downloads and verifies
    /// every blob, unpacks each layer once, and records the image under the name it was pulled by.
    /// </summary>
    /// <returns>The stored image; its <see cref="ImageRecord.Id"/> is the CRI image ref.</returns>
    /// <exception cref="ImageException">Bad reference, registry or auth failure, or unusable content.</exception>
    public async Task<ImageRecord> PullAsync(string reference, RegistryAuth? auth, CancellationToken cancellationToken)
    {
        var image = ImageReference.Parse(reference);
        var started = Stopwatch.GetTimestamp();
        ImagesLog.PullStarted(_logger, image.ToString());
        var session = _registry.Open(image, auth);
        using var protection = Protect();

        var top = await session.GetManifestAsync(image.Reference, cancellationToken).ConfigureAwait(false);
        protection.Add([top.Digest]);
        var blobs = new List<string> { top.Digest };
        var manifestFetch = await ResolvePlatformAsync(image, session, top, protection, blobs, cancellationToken).ConfigureAwait(false);
        var manifest = Parse<ImageManifest>(manifestFetch.Content, image, $"manifest {manifestFetch.Digest}");
        await _content.PutAsync(top.Digest, top.Content, cancellationToken).ConfigureAwait(false);
        await _content.PutAsync(manifestFetch.Digest, manifestFetch.Content, cancellationToken).ConfigureAwait(false);

        var configDescriptor = manifest.Config;
        if (configDescriptor is null || !ImageReference.IsValidDigest(configDescriptor.Digest)
            || configDescriptor.Size is < 0 or > MaxConfigBytes)
        {
            throw new ImageException(ImageErrorKind.FailedPrecondition, $"pulling {image}: manifest {manifestFetch.Digest} has no usable config descriptor");
        }

        var layers = manifest.Layers ?? [];
        foreach (var layer in layers)
        {
            if (!ImageReference.IsValidDigest(layer.Digest) || layer.Size < 0
                || (layer.MediaType is not null && !MediaTypes.IsLayer(layer.MediaType)))
            {
                throw new ImageException(
                    ImageErrorKind.FailedPrecondition,
                    $"pulling {image}: layer {layer.Digest} has unsupported media type '{layer.MediaType}' or a bad digest/size");
            }
        }

        protection.Add([configDescriptor.Digest, .. layers.Select(l => l.Digest)]);
        await EnsureBlobAsync(session, image, configDescriptor, cancellationToken).ConfigureAwait(false);
        var configBytes = await File.ReadAllBytesAsync(_content.BlobPath(configDescriptor.Digest), cancellationToken).ConfigureAwait(false);
        var config = Parse<ImageConfigFile>(configBytes, image, $"config {configDescriptor.Digest}");
        var diffIds = config.RootFs?.DiffIds ?? [];
        if (diffIds.Count != layers.Count || diffIds.Any(d => !ImageReference.IsValidDigest(d)))
        {
            throw new ImageException(
                ImageErrorKind.FailedPrecondition,
                $"pulling {image}: config {configDescriptor.Digest} lists {diffIds.Count} diff ids for {layers.Count} layers");
        }

        var chainIds = ChainIds(diffIds);
        protection.Add(chainIds);
        using (var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var tasks = layers.Select((l, i) => EnsureLayerAsync(session, image, l, diffIds[i], chainIds[i], failFast)).ToList();
            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch when (!cancellationToken.IsCancellationRequested)
            {
                // Report the failure that stopped the pull, not a sibling's cancellation.
                var first = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!).FirstOrDefault();
                if (first is not null)
                {
                    if (first is ImageException)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
                    }

                    throw new ImageException(ImageErrorKind.Internal, $"pulling {image}: {first.Message}", first);
                }

                throw;
            }
        }

        blobs.Add(manifestFetch.Digest);
        blobs.Add(configDescriptor.Digest);
        blobs.AddRange(layers.Select(l => l.Digest));
        var record = new ImageRecord
        {
            Id = configDescriptor.Digest,
            ConfigDigest = configDescriptor.Digest,
            RepoTags = image.Tag is null ? [] : [image.ToString()],
            RepoDigests = [image.WithDigest(top.Digest).ToString()],
            Size = configDescriptor.Size + layers.Sum(l => l.Size),
            Layers = layers.Select((l, i) => new ImageLayer(l.Digest, l.MediaType ?? "", l.Size, diffIds[i], chainIds[i])).ToList(),
            Blobs = blobs.Distinct(StringComparer.Ordinal).ToList(),
            Config = ToImageConfig(config),
            PulledAt = _time.GetUtcNow(),
        };
        var stored = await CommitAsync(image, record, cancellationToken).ConfigureAwait(false);
        ImagesLog.PullCompleted(_logger, image.ToString(), stored.Id, stored.Size, Stopwatch.GetElapsedTime(started).TotalSeconds);
        return WithPinned(stored);
    }

    /// <summary>Follows an index to the linux/amd64 manifest; returns a manifest as is.</summary>
    private static async Task<FetchedManifest> ResolvePlatformAsync(
        ImageReference image, RepositorySession session, FetchedManifest fetched, ProtectionScope protection, List<string> blobs, CancellationToken cancellationToken)
    {
        for (var depth = 0; depth < 3; depth++)
        {
            var mediaType = MediaTypeOf(fetched);
            if (MediaTypes.IsManifest(mediaType))
            {
                return fetched;
            }

            if (!MediaTypes.IsIndex(mediaType))
            {
                throw new ImageException(
                    ImageErrorKind.InvalidArgument,
                    $"pulling {image}: {fetched.Digest} has unsupported media type '{mediaType}' (schema 1 and non-image artifacts are not supported)");
            }

            var index = Parse<ImageIndex>(fetched.Content, image, $"index {fetched.Digest}");
            var candidates = (index.Manifests ?? [])
                .Where(m => m.Platform is { Os: "linux", Architecture: "amd64" } && ImageReference.IsValidDigest(m.Digest))
                .OrderBy(m => m.Platform!.Variant is null or "" or "v1" ? 0 : 1)
                .ToList();
            if (candidates.Count == 0)
            {
                var platforms = string.Join(", ", (index.Manifests ?? []).Select(m => $"{m.Platform?.Os}/{m.Platform?.Architecture}"));
                throw new ImageException(
                    ImageErrorKind.NotFound,
                    $"pulling {image}: index {fetched.Digest} has no linux/amd64 manifest (has: {platforms})");
            }

            var chosen = candidates[0];
            protection.Add([chosen.Digest]);
            var child = await session.GetManifestAsync(chosen.Digest, cancellationToken).ConfigureAwait(false);
            if (child.Content.Length != chosen.Size)
            {
                throw new ImageException(
                    ImageErrorKind.FailedPrecondition,
                    $"pulling {image}: manifest {chosen.Digest} is {child.Content.Length} bytes, the index says {chosen.Size}");
            }

            if (MediaTypes.IsIndex(MediaTypeOf(child)))
            {
                blobs.Add(child.Digest);
            }

            fetched = child;
        }

        throw new ImageException(ImageErrorKind.FailedPrecondition, $"pulling {image}: indexes nested too deep");
    }

    private async Task EnsureLayerAsync(
        RepositorySession session, ImageReference image, Descriptor layer, string diffId, string chainId, CancellationTokenSource failFast)
    {
        try
        {
            await EnsureBlobAsync(session, image, layer, failFast.Token).ConfigureAwait(false);
            if (_snapshots.Exists(chainId))
            {
                return;
            }

            await _unpacks.RunAsync(
                chainId,
                token => _snapshots.CreateAsync(chainId, (dir, t) => Task.Run(
                    () =>
                    {
                        var started = Stopwatch.GetTimestamp();
                        using (var blob = _content.OpenRead(layer.Digest))
                        {
                            LayerUnpacker.Unpack(blob, diffId, dir, $"image {image}: layer {layer.Digest}", t);
                        }

                        ImagesLog.LayerUnpacked(_logger, image.ToString(), layer.Digest, Stopwatch.GetElapsedTime(started).TotalSeconds);
                    },
                    t), token),
                failFast.Token).ConfigureAwait(false);
        }
        catch
        {
            await failFast.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task EnsureBlobAsync(RepositorySession session, ImageReference image, Descriptor blob, CancellationToken cancellationToken)
    {
        if (_content.Exists(blob.Digest))
        {
            return;
        }

        await _downloads.RunAsync(blob.Digest, token => DownloadAsync(session, image, blob, token), cancellationToken).ConfigureAwait(false);
    }

    private async Task DownloadAsync(RepositorySession session, ImageReference image, Descriptor blob, CancellationToken cancellationToken)
    {
        if (_content.Exists(blob.Digest))
        {
            return;
        }

        await _downloadSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            var attempts = _options.PullRetries + 1;
            var timeout = TimeSpan.FromSeconds(_options.RequestTimeoutSeconds);
            await using var writer = _content.BeginWrite(blob.Digest, blob.Size);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    using var response = await session.GetBlobAsync(blob.Digest, idle, cancellationToken).ConfigureAwait(false);
                    await using var body = await response.Content.ReadAsStreamAsync(idle.Token).ConfigureAwait(false);
                    await CopyAsync(body, writer, idle, timeout, image, blob).ConfigureAwait(false);
                    writer.Commit();
                    ImagesLog.BlobDownloaded(_logger, image.ToString(), blob.Digest, blob.Size, Stopwatch.GetElapsedTime(started).TotalSeconds);
                    return;
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested
                                          && e is HttpRequestException or OperationCanceledException
                                              or (IOException and not FileNotFoundException))
                {
                    var reason = e is OperationCanceledException
                        ? $"no data for {_options.RequestTimeoutSeconds} s"
                        : RepositorySession.Describe(e);
                    var what = $"pulling {image}: blob {blob.Digest} from {session.BlobSource}";
                    if (attempt >= attempts)
                    {
                        throw new ImageException(
                            ImageErrorKind.Unavailable,
                            $"{what}: transfer failed after {writer.Written} of {blob.Size} bytes, {attempts} attempts: {reason}",
                            e);
                    }

                    writer.Reset();
                    var delay = RepositorySession.RetryDelay(_options, attempt);
                    ImagesLog.Retrying(_logger, what, attempt, attempts, reason, delay);
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _downloadSlots.Release();
        }
    }

    private async Task CopyAsync(Stream body, Content.BlobWriter writer, CancellationTokenSource idle, TimeSpan timeout, ImageReference image, Descriptor blob)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(256 * 1024);
        try
        {
            var interval = TimeSpan.FromSeconds(_options.ProgressIntervalSeconds);
            var lastReport = Stopwatch.GetTimestamp();
            while (true)
            {
                idle.CancelAfter(timeout);
                var read = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await writer.WriteAsync(buffer.AsMemory(0, read), idle.Token).ConfigureAwait(false);
                if (Stopwatch.GetElapsedTime(lastReport) >= interval)
                {
                    lastReport = Stopwatch.GetTimestamp();
                    ImagesLog.BlobProgress(_logger, image.ToString(), blob.Digest, writer.Written, blob.Size);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Chain ids as the OCI image spec defines them: the first diff id, then sha256("parent diff").</summary>
    internal static List<string> ChainIds(IReadOnlyList<string> diffIds)
    {
        var result = new List<string>(diffIds.Count);
        foreach (var diffId in diffIds)
        {
            result.Add(result.Count == 0
                ? diffId
                : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes($"{result[^1]} {diffId}"))));
        }

        return result;
    }

    private static string MediaTypeOf(FetchedManifest fetched)
    {
        if (MediaTypes.IsIndex(fetched.MediaType) || MediaTypes.IsManifest(fetched.MediaType))
        {
            return fetched.MediaType;
        }

        // Some registries serve "application/json"; the document's own mediaType or shape decides then.
        try
        {
            using var doc = JsonDocument.Parse(fetched.Content);
            var root = doc.RootElement;
            if (root.TryGetProperty("mediaType", out var mt) && mt.GetString() is { Length: > 0 } declared)
            {
                return declared;
            }

            if (root.TryGetProperty("schemaVersion", out var sv) && sv.TryGetInt32(out var version) && version == 1)
            {
                return MediaTypes.DockerSchema1;
            }

            return root.TryGetProperty("manifests", out _) ? MediaTypes.OciIndex
                : root.TryGetProperty("config", out _) ? MediaTypes.OciManifest
                : fetched.MediaType;
        }
        catch (JsonException)
        {
            return fetched.MediaType;
        }
    }

    private static T Parse<T>(byte[] content, ImageReference image, string what)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(content)
                   ?? throw new ImageException(ImageErrorKind.FailedPrecondition, $"pulling {image}: {what} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException(ImageErrorKind.FailedPrecondition, $"pulling {image}: {what} is not valid JSON: {e.Message}", e);
        }
    }

    private static ImageConfig ToImageConfig(ImageConfigFile file)
    {
        var c = file.Config;
        return new ImageConfig
        {
            User = c?.User ?? "",
            Env = c?.Env ?? [],
            Entrypoint = c?.Entrypoint ?? [],
            Cmd = c?.Cmd ?? [],
            WorkingDir = c?.WorkingDir ?? "",
            Labels = c?.Labels ?? [],
            StopSignal = c?.StopSignal ?? "",
            ExposedPorts = c?.ExposedPorts?.Keys.Order(StringComparer.Ordinal).ToList() ?? [],
            Volumes = c?.Volumes?.Keys.Order(StringComparer.Ordinal).ToList() ?? [],
            Architecture = file.Architecture ?? "",
            Os = file.Os ?? "",
            Created = file.Created,
        };
    }
}
