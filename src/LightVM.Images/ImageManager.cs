using LightVM.Images.Content;
using LightVM.Images.Distribution;
using LightVM.Images.Internal;
using LightVM.Images.Unpack;
using LightVM.State;
using Microsoft.Extensions.Logging;

namespace LightVM.Images;

/// <summary>
/// The image service: pulls images into the content store, unpacks their layers into shared snapshots, and keeps
/// image metadata in the state store's <c>images</c> collection (keyed by image id).
/// </summary>
/// <remarks>
/// Layout under the root: <c>blobs/sha256/&lt;hex&gt;</c> (verified blobs), <c>ingest/</c> (blobs being written),
/// <c>snapshots/&lt;chain id hex&gt;</c> (one layer each, overlayfs diff form; <c>tmp-*</c>/<c>del-*</c> are in
/// transit). An image record is written only after all its blobs and snapshots are complete, so a record always
/// points at complete content; content no record, lease or running pull needs is garbage collected.
/// </remarks>
public sealed partial class ImageManager : IDisposable
{
    private readonly ImagesOptions _options;
    private readonly ILogger _logger;
    private readonly ContentStore _content;
    private readonly SnapshotStore _snapshots;
    private readonly RecordCollection<ImageRecord> _records;
    private readonly RecordCollection<ImageLease> _leases;
    private readonly RegistryClient _registry;
    private readonly SingleFlight _downloads = new();
    private readonly SingleFlight _unpacks = new();
    private readonly SemaphoreSlim _downloadSlots;
    private readonly SemaphoreSlim _metadataLock = new(1, 1);
    private readonly Lock _protectLock = new();
    private readonly Dictionary<string, int> _protected = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pinned;
    private readonly TimeProvider _time;

    /// <summary>Opens the image store at <paramref name="root"/>, cleaning up what an interrupted run left.</summary>
    /// <param name="options">Validated options.</param>
    /// <param name="root">The resolved store directory (absolute).</param>
    /// <param name="state">The daemon's state store.</param>
    /// <param name="logger">Where progress and problems go.</param>
    /// <param name="handler">Replaces the HTTP stack (tests); null for the real one.</param>
    /// <param name="time">Clock for token expiry; null for the system clock.</param>
    public ImageManager(
        ImagesOptions options, string root, StateStore state, ILogger logger, HttpMessageHandler? handler = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(state);
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        // Snapshots hold images' set-uid binaries and device nodes; host users must not reach them.
        NativeMethods.Check(NativeMethods.Chmod(Root, 0b111_000_000), "chmod", Root);
        _content = new ContentStore(Root);
        _snapshots = new SnapshotStore(Root);
        _records = state.GetCollection<ImageRecord>("images");
        _leases = state.GetCollection<ImageLease>("image_leases");
        _registry = new RegistryClient(options, handler, logger, _time);
        _downloadSlots = new SemaphoreSlim(options.MaxConcurrentDownloads, options.MaxConcurrentDownloads);
        _pinned = options.Pinned.Select(p => ImageReference.Parse(p).ToString()).ToHashSet(StringComparer.Ordinal);
        Recover();
    }

    /// <summary>The store directory.</summary>
    public string Root { get; }

    /// <summary>Every image, ordered by id.</summary>
    public IReadOnlyList<ImageRecord> List() => _records.List().Select(WithPinned).ToList();

    /// <summary>
    /// Finds an image by full id, normalised name (tag or digest form, as the user typed it), or unique id prefix;
    /// null when there is none.
    /// </summary>
    /// <exception cref="ImageException">InvalidArgument when an id prefix matches several images.</exception>
    public ImageRecord? Find(string idOrNameOrDigest)
    {
        ArgumentNullException.ThrowIfNull(idOrNameOrDigest);
        var text = idOrNameOrDigest.Trim();
        if (text.Length == 0)
        {
            return null;
        }

        var id = text.StartsWith("sha256:", StringComparison.Ordinal) ? text : "sha256:" + text;
        if (ImageReference.IsValidDigest(id) && _records.Get(id) is { } byId)
        {
            return WithPinned(byId);
        }

        var all = _records.List();
        if (ImageReference.TryParse(text, out var reference, out _))
        {
            var name = reference.ToString();
            var byName = all.FirstOrDefault(r => r.RepoTags.Contains(name) || r.RepoDigests.Contains(name));
            if (byName is not null)
            {
                return WithPinned(byName);
            }
        }

        var prefix = id;
        if (prefix.Length <= "sha256:".Length || !prefix[7..].All(char.IsAsciiHexDigitLower))
        {
            return null;
        }

        var matches = all.Where(r => r.Id.StartsWith(prefix, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count switch
        {
            0 => null,
            1 => WithPinned(matches[0]),
            _ => throw new ImageException(ImageErrorKind.InvalidArgument, $"image id prefix '{text}' matches more than one image"),
        };
    }

    /// <summary>
    /// The image's layer directories, top first, to use as overlayfs <c>lowerdir</c>s (joined with ':').
    /// The image's config is <see cref="ImageRecord.Config"/>.
    /// </summary>
    /// <exception cref="ImageException">NotFound when a snapshot is missing (pull the image again).</exception>
    public IReadOnlyList<string> GetRootfsLayers(ImageRecord image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var layers = new List<string>(image.Layers.Count);
        for (var i = image.Layers.Count - 1; i >= 0; i--)
        {
            var layer = image.Layers[i];
            var path = _snapshots.PathOf(layer.ChainId);
            if (!Directory.Exists(path))
            {
                throw new ImageException(
                    ImageErrorKind.NotFound,
                    $"image {image.Id}: layer {layer.Digest} is not unpacked ({path} missing); pull the image again");
            }

            layers.Add(path);
        }

        return layers;
    }

    /// <summary>
    /// Records that <paramref name="holder"/> (a container id) uses <paramref name="image"/>'s layers, so removing the
    /// image keeps them until <see cref="ReleaseLease"/>. Survives restarts.
    /// </summary>
    public void AcquireLease(string holder, ImageRecord image)
    {
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentNullException.ThrowIfNull(image);
        _leases.Put(holder, new ImageLease(holder, image.Id, image.ChainIds.ToList()));
    }

    /// <summary>Drops the lease of <paramref name="holder"/> and frees layers nothing else uses; absent is fine.</summary>
    public async Task ReleaseLeaseAsync(string holder, CancellationToken cancellationToken)
    {
        if (!_leases.Delete(holder))
        {
            return;
        }

        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            CollectGarbage();
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    public void Dispose()
    {
        _registry.Dispose();
        _downloadSlots.Dispose();
        _metadataLock.Dispose();
    }

    private ImageRecord WithPinned(ImageRecord record) =>
        record with { Pinned = _pinned.Count > 0 && record.RepoTags.Concat(record.RepoDigests).Any(_pinned.Contains) };

    private void Recover()
    {
        var ingest = _content.CleanIngest();
        var snapshots = _snapshots.CleanTemporary();
        if (ingest + snapshots > 0)
        {
            ImagesLog.CleanedTemporary(_logger, ingest, snapshots);
        }

        // A record is written after its content, so missing content means someone deleted files by hand. Dropping
        // the record makes ImageStatus say "absent" and kubelet pull again, instead of failing every container start.
        foreach (var record in _records.List())
        {
            var missing = record.Blobs.Where(b => !_content.Exists(b))
                .Concat(record.Layers.Select(l => l.ChainId).Where(c => !_snapshots.Exists(c)))
                .ToList();
            if (missing.Count > 0)
            {
                ImagesLog.ImageIncomplete(_logger, record.Id, string.Join(", ", missing));
                _records.Delete(record.Id);
            }
        }

        CollectGarbage();
    }

    private ProtectionScope Protect() => new(this);

    /// <summary>Keeps content a pull is working with from being garbage collected until disposed.</summary>
    private sealed class ProtectionScope(ImageManager owner) : IDisposable
    {
        private readonly List<string> _keys = [];

        public void Add(IEnumerable<string> keys)
        {
            lock (owner._protectLock)
            {
                foreach (var key in keys)
                {
                    owner._protected[key] = owner._protected.GetValueOrDefault(key) + 1;
                    _keys.Add(key);
                }
            }
        }

        public void Dispose()
        {
            lock (owner._protectLock)
            {
                foreach (var key in _keys)
                {
                    if (--owner._protected[key] == 0)
                    {
                        owner._protected.Remove(key);
                    }
                }
            }
        }
    }
}

/// <summary>A container's hold on an image's layers.</summary>
/// <param name="Holder">Who holds it (a container id).</param>
/// <param name="ImageId">The image whose layers are held.</param>
/// <param name="ChainIds">The held snapshots.</param>
public sealed record ImageLease(string Holder, string ImageId, IReadOnlyList<string> ChainIds);
