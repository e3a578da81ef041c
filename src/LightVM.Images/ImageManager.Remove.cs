using LightVM.Images.Internal;
using LightVM.Images.Unpack;

namespace LightVM.Images;

public sealed partial class ImageManager
{
    /// <summary>
    /// Removes the image <paramref name="idOrName"/> with all its names (as containerd's CRI does), then deletes
    /// the blobs and snapshots no other image, lease or running pull uses. An absent image is success.
    /// </summary>
    /// <returns>The removed image, or null when there was none.</returns>
    public async Task<ImageRecord?> RemoveAsync(string idOrName, CancellationToken cancellationToken)
    {
        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var image = Find(idOrName);
            if (image is null)
            {
                return null;
            }

            _records.Delete(image.Id);
            ImagesLog.ImageRemoved(_logger, image.Id, string.Join(", ", image.RepoTags.Concat(image.RepoDigests)));
            CollectGarbage();
            return image;
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    /// <summary>
    /// Stores a pulled image: merges its names into an existing record with the same id, and takes its tag away from
    /// any other image that had it (that image keeps its digest name, as with containerd).
    /// </summary>
    private async Task<ImageRecord> CommitAsync(ImageReference image, ImageRecord pulled, CancellationToken cancellationToken)
    {
        await _metadataLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (image.Tag is not null)
            {
                var tag = image.ToString();
                foreach (var other in _records.List().Where(r => r.Id != pulled.Id && r.RepoTags.Contains(tag)))
                {
                    _records.Update(other.Id, r => r with { RepoTags = r.RepoTags.Where(t => t != tag).ToList() });
                    ImagesLog.Untagged(_logger, tag, other.Id);
                }
            }

            var existing = _records.Get(pulled.Id);
            var record = existing is null
                ? pulled
                : existing with
                {
                    RepoTags = Union(existing.RepoTags, pulled.RepoTags),
                    RepoDigests = Union(existing.RepoDigests, pulled.RepoDigests),
                    Blobs = Union(existing.Blobs, pulled.Blobs),
                };
            _records.Put(record.Id, record);
            return record;
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    /// <summary>Deletes blobs and snapshots that no record, lease or running pull refers to. Call under the metadata lock.</summary>
    private void CollectGarbage()
    {
        var records = _records.List();
        var blobs = records.SelectMany(r => r.Blobs).ToHashSet(StringComparer.Ordinal);
        var snapshots = records.SelectMany(r => r.ChainIds)
            .Concat(_leases.List().SelectMany(l => l.ChainIds))
            .ToHashSet(StringComparer.Ordinal);
        var deletedBlobs = 0;
        var detached = new List<string>();
        foreach (var digest in _content.List().Where(d => !blobs.Contains(d)).ToList())
        {
            lock (_protectLock)
            {
                if (!_protected.ContainsKey(digest))
                {
                    _content.Delete(digest);
                    deletedBlobs++;
                }
            }
        }

        foreach (var chainId in _snapshots.List().Where(c => !snapshots.Contains(c)).ToList())
        {
            lock (_protectLock)
            {
                if (!_protected.ContainsKey(chainId) && _snapshots.Detach(chainId) is { } path)
                {
                    detached.Add(path);
                }
            }
        }

        // The trees are already out of the way; deleting them needs no lock.
        foreach (var path in detached)
        {
            SnapshotStore.DeleteDetached(path);
        }

        if (deletedBlobs + detached.Count > 0)
        {
            ImagesLog.GarbageCollected(_logger, deletedBlobs, detached.Count);
        }
    }

    /// <summary>Space and inodes the store uses, and the mount point of its filesystem.</summary>
    public ImageFsUsage GetFsUsage()
    {
        long bytes = 0;
        long inodes = 0;
        var seen = new HashSet<(uint, uint, ulong)>();
        var pending = new Stack<string>();
        pending.Push(Root);
        var options = new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = true, AttributesToSkip = 0 };
        while (pending.TryPop(out var directory))
        {
            if (!NativeMethods.TryLStat(directory, out var st) || !seen.Add((st.DevMajor, st.DevMinor, st.Ino)))
            {
                continue;
            }

            bytes += (long)st.Blocks * 512;
            inodes++;
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", options))
            {
                if (!NativeMethods.TryLStat(entry, out var est))
                {
                    continue;
                }

                if ((est.Mode & NativeMethods.SIfMt) == NativeMethods.SIfDir)
                {
                    pending.Push(entry);
                }
                else if (est.NLink == 1 || seen.Add((est.DevMajor, est.DevMinor, est.Ino)))
                {
                    bytes += (long)est.Blocks * 512;
                    inodes++;
                }
            }
        }

        return new ImageFsUsage(MountPointOf(Root), bytes, inodes, _time.GetUtcNow());
    }

    /// <summary>The longest mount point in /proc/self/mountinfo containing <paramref name="path"/>.</summary>
    internal static string MountPointOf(string path)
    {
        var best = "/";
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5)
            {
                continue;
            }

            var mountPoint = UnescapeOctal(fields[4]);
            var inside = mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint + "/", StringComparison.Ordinal);
            if (inside && mountPoint.Length > best.Length)
            {
                best = mountPoint;
            }
        }

        return best;
    }

    private static string UnescapeOctal(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length)
            {
                sb.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }

        return sb.ToString();
    }

    private static List<string> Union(IEnumerable<string> a, IEnumerable<string> b) =>
        a.Concat(b).Distinct(StringComparer.Ordinal).ToList();
}
