using LightVM.Images.Internal;

namespace LightVM.Images.Unpack;

/// <summary>
/// Unpacked layers under <c>&lt;root&gt;/snapshots/&lt;chain id hex&gt;</c>, each one layer's changes in overlayfs
/// form (whiteouts as 0/0 character devices, opaque directories marked by xattr), ready to be a lowerdir.
/// </summary>
/// <remarks>
/// A snapshot is filled in a <c>tmp-*</c> directory beside its final place, synced, and renamed: a directory with a
/// 64-hex name is always complete. Deletion renames to <c>del-*</c> first for the same reason. Both prefixes are
/// cleaned on start.
/// </remarks>
internal sealed class SnapshotStore
{
    private readonly string _root;

    public SnapshotStore(string root)
    {
        _root = Path.Combine(root, "snapshots");
        Directory.CreateDirectory(_root);
    }

    public string PathOf(string chainId) => Path.Combine(_root, Content.ContentStore.Hex(chainId));

    public bool Exists(string chainId) => Directory.Exists(PathOf(chainId));

    /// <summary>Chain ids of complete snapshots.</summary>
    public IEnumerable<string> List() =>
        Directory.EnumerateDirectories(_root)
            .Select(Path.GetFileName)
            .Where(n => n is { Length: 64 } && ImageReference.IsValidDigest("sha256:" + n))
            .Select(n => "sha256:" + n);

    /// <summary>Deletes half-made and half-deleted snapshots left by a crash.</summary>
    public int CleanTemporary()
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith("tmp-", StringComparison.Ordinal) || name.StartsWith("del-", StringComparison.Ordinal))
            {
                Directory.Delete(dir, recursive: true);
                count++;
            }
        }

        return count;
    }

    /// <summary>Creates the snapshot <paramref name="chainId"/> by running <paramref name="fill"/> on an empty directory.</summary>
    public async Task CreateAsync(string chainId, Func<string, CancellationToken, Task> fill, CancellationToken cancellationToken)
    {
        var final = PathOf(chainId);
        if (Directory.Exists(final))
        {
            return;
        }

        var temp = Path.Combine(_root, $"tmp-{Content.ContentStore.Hex(chainId)}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            await fill(temp, cancellationToken).ConfigureAwait(false);
            // Everything written must be on disk before the rename makes the snapshot look complete.
            using (var handle = NativeMethods.OpenDirectory(temp))
            {
                NativeMethods.Check(NativeMethods.SyncFs(handle), "syncfs", temp);
            }

            Directory.Move(temp, final);
            using var parent = NativeMethods.OpenDirectory(_root);
            NativeMethods.Check(NativeMethods.FSync(parent), "fsync", _root);
        }
        catch
        {
            DeleteTree(temp);
            throw;
        }
    }

    /// <summary>
    /// Renames the snapshot out of the way (it stops counting as complete at once) and returns where it went, or null
    /// when absent. <see cref="DeleteDetached"/> then removes the tree.
    /// </summary>
    public string? Detach(string chainId)
    {
        var final = PathOf(chainId);
        if (!Directory.Exists(final))
        {
            return null;
        }

        var doomed = Path.Combine(_root, $"del-{Content.ContentStore.Hex(chainId)}-{Guid.NewGuid():N}");
        Directory.Move(final, doomed);
        return doomed;
    }

    public static void DeleteDetached(string path) => DeleteTree(path);

    private static void DeleteTree(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for CleanTemporary on the next start; the prefix already marks it as garbage.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
