using LightVM.State;
using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

/// <summary>A temp image root and state database; opens image managers on them as the daemon would.</summary>
internal sealed class ImageStore : IDisposable
{
    private readonly List<ImageManager> _managers = [];
    private StateStore? _state;

    public ImageStore(ITestOutputHelper? output, ImagesOptions? options = null)
    {
        Dir = Directory.CreateTempSubdirectory("lightvm-images-").FullName;
        Options = options ?? new ImagesOptions();
        Options.RetryDelayMilliseconds = 20;
        Logger = new TestLogger(output);
    }

    public string Dir { get; }

    public string Root => Path.Combine(Dir, "images");

    public ImagesOptions Options { get; }

    public TestLogger Logger { get; }

    /// <summary>Opens a new manager (and state store), as a daemon restart would.</summary>
    public ImageManager Open()
    {
        foreach (var m in _managers)
        {
            m.Dispose();
        }

        _managers.Clear();
        _state?.Dispose();
        _state = StateStore.Open(Path.Combine(Dir, "state.db"));
        var manager = new ImageManager(Options, Root, _state, Logger);
        _managers.Add(manager);
        return manager;
    }

    public string BlobPath(string digest) => Path.Combine(Root, "blobs", "sha256", digest[7..]);

    public string SnapshotPath(string chainId) => Path.Combine(Root, "snapshots", chainId[7..]);

    public IEnumerable<string> Ingest => Directory.EnumerateFileSystemEntries(Path.Combine(Root, "ingest"));

    public IEnumerable<string> SnapshotDirs => Directory.EnumerateDirectories(Path.Combine(Root, "snapshots")).Select(Path.GetFileName)!;

    public void Dispose()
    {
        foreach (var m in _managers)
        {
            m.Dispose();
        }

        _state?.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
