using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

public sealed class RemoveTests(RegistryFixture registry, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task RemoveAsync_FreesOwnBlobsAndKeepsShared()
    {
        var shared = new LayerBuilder().File("shared", "both images").Build();
        var onlyA = new LayerBuilder().File("a", "only a").Build();
        var onlyB = new LayerBuilder().File("b", "only b").Build();
        var a = new OciImageBuilder(shared, onlyA).Build();
        var b = new OciImageBuilder(shared, onlyB).Build();
        await registry.Pusher.PushAsync("remove/a", "v1", a);
        await registry.Pusher.PushAsync("remove/b", "v1", b);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var recordA = await manager.PullAsync($"{registry.Host}/remove/a:v1", null, CancellationToken.None);
        var recordB = await manager.PullAsync($"{registry.Host}/remove/b:v1", null, CancellationToken.None);
        Assert.Equal(recordA.Layers[0].ChainId, recordB.Layers[0].ChainId);

        var removed = await manager.RemoveAsync($"{registry.Host}/remove/a:v1", CancellationToken.None);

        Assert.Equal(a.Id, removed?.Id);
        Assert.Null(manager.Find(a.Id));
        Assert.False(File.Exists(store.BlobPath(onlyA.Digest)));
        Assert.False(File.Exists(store.BlobPath(a.ConfigDigest)));
        Assert.False(File.Exists(store.BlobPath(a.ManifestDigest)));
        Assert.False(Directory.Exists(store.SnapshotPath(recordA.Layers[1].ChainId)));
        Assert.True(File.Exists(store.BlobPath(shared.Digest)));
        Assert.True(Directory.Exists(store.SnapshotPath(recordA.Layers[0].ChainId)));
        Assert.Equal(2, manager.GetRootfsLayers(manager.Find(b.Id)!).Count);
        Assert.DoesNotContain(store.SnapshotDirs, d => d.StartsWith("del-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RemoveAsync_ByIdOrDigest_RemovesAllNames()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("x", "names").Build()).Build();
        await registry.Pusher.PushAsync("remove/names", "v1", image);
        await registry.Pusher.PushAsync("remove/names", "v2", image);
        using var store = new ImageStore(output);
        var manager = store.Open();
        await manager.PullAsync($"{registry.Host}/remove/names:v1", null, CancellationToken.None);
        var record = await manager.PullAsync($"{registry.Host}/remove/names:v2", null, CancellationToken.None);
        Assert.Equal(2, record.RepoTags.Count);

        await manager.RemoveAsync($"{registry.Host}/remove/names@{image.ManifestDigest}", CancellationToken.None);

        Assert.Empty(manager.List());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(store.Root, "blobs", "sha256")));
        Assert.Empty(store.SnapshotDirs);
    }

    [Fact]
    public async Task RemoveAsync_Absent_Succeeds()
    {
        using var store = new ImageStore(output);
        var manager = store.Open();

        Assert.Null(await manager.RemoveAsync("busybox", CancellationToken.None));
        Assert.Null(await manager.RemoveAsync("sha256:" + new string('1', 64), CancellationToken.None));
    }

    [Fact]
    public async Task RemoveAsync_LeasedLayers_KeptUntilReleased()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("x", "leased").Build()).Build();
        await registry.Pusher.PushAsync("remove/leased", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var record = await manager.PullAsync($"{registry.Host}/remove/leased:v1", null, CancellationToken.None);
        var layers = manager.GetRootfsLayers(record);
        manager.AcquireLease("container-1", record);

        await manager.RemoveAsync(record.Id, CancellationToken.None);
        store.Open();
        Assert.True(Directory.Exists(layers[0]));
        manager = store.Open();
        await manager.ReleaseLeaseAsync("container-1", CancellationToken.None);

        Assert.False(Directory.Exists(layers[0]));
    }
}
