using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

public sealed class FailureTests(ITestOutputHelper output)
{
    private static BuiltImage BigImage(int seed) => new OciImageBuilder(
        new LayerBuilder().RandomFile("big1", 3 * 1024 * 1024, seed).Build(),
        new LayerBuilder().RandomFile("big2", 2 * 1024 * 1024, seed + 1).Build()) { Comment = $"big{seed}" }.Build();

    [Fact]
    public async Task PullAsync_ConnectionCutMidBlobEveryTime_ClearErrorNothingCorruptNextPullSucceeds()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(1);
        await registry.Pusher.PushAsync("cut/app", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.CutBlobsAfterBytes = 100_000;
        using var store = new ImageStore(output, new ImagesOptions { PullRetries = 2, MaxConcurrentDownloads = 1 });
        var manager = store.Open();
        var reference = $"{proxy.Host}/cut/app:v1";

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync(reference, null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.Unavailable, e.Kind);
        Assert.Contains(reference, e.Message, StringComparison.Ordinal);
        Assert.Matches("blob sha256:[0-9a-f]{64}", e.Message);
        Assert.Contains("3 attempts", e.Message, StringComparison.Ordinal);
        Assert.Empty(manager.List());
        Assert.Empty(store.Ingest);
        foreach (var layer in image.Layers)
        {
            Assert.False(File.Exists(store.BlobPath(layer.Digest)));
        }

        Assert.DoesNotContain(store.SnapshotDirs, d => d.StartsWith("tmp-", StringComparison.Ordinal));

        proxy.CutBlobsAfterBytes = null;
        var record = await manager.PullAsync(reference, null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        foreach (var layer in image.Layers)
        {
            Assert.Equal(layer.Digest, LayerBuilder.Digest(File.ReadAllBytes(store.BlobPath(layer.Digest))));
        }
    }

    [Fact]
    public async Task PullAsync_ConnectionCutOnce_RetriedAndSucceeds()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(3);
        await registry.Pusher.PushAsync("cut/once", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.CutBlobsAfterBytes = 500_000;
        proxy.CutsAllowed = 1;
        using var store = new ImageStore(output);

        var record = await store.Open().PullAsync($"{proxy.Host}/cut/once:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        Assert.Contains(store.Logger.Lines, l => l.Contains("[3004]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PullAsync_RegistryStopped_UnavailableThenSucceedsAfterRestart()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(5);
        await registry.Pusher.PushAsync("stop/app", "v1", image);
        using var store = new ImageStore(output, new ImagesOptions { PullRetries = 1 });
        var manager = store.Open();
        var reference = $"{registry.Host}/stop/app:v1";
        await registry.StopAsync();

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync(reference, null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.Unavailable, e.Kind);
        Assert.Contains(registry.Host, e.Message, StringComparison.Ordinal);
        await registry.StartAsync();
        var record = await manager.PullAsync(reference, null, CancellationToken.None);
        Assert.Equal(image.Id, record.Id);
    }

    [Fact]
    public async Task PullAsync_RegistryKilledMidBlob_NoCorruptBlobAndNextPullSucceeds()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(7);
        await registry.Pusher.PushAsync("kill/app", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        using var store = new ImageStore(output, new ImagesOptions { PullRetries = 1, MaxConcurrentDownloads = 1 });
        var manager = store.Open();
        // The first layer transfer dies part way; the registry is killed right then, so the retries find it gone
        // (and any retry that races the kill is cut too: the outcome cannot depend on timing).
        proxy.CutBlobsAfterBytes = 200_000;
        var pull = manager.PullAsync($"{proxy.Host}/kill/app:v1", null, CancellationToken.None);
        while (proxy.Cuts == 0 && !pull.IsCompleted)
        {
            await Task.Delay(5);
        }

        await registry.StopAsync();
        var e = await Assert.ThrowsAsync<ImageException>(() => pull);

        Assert.Equal(ImageErrorKind.Unavailable, e.Kind);
        Assert.Empty(store.Ingest);
        Assert.Empty(manager.List());
        // Blobs completed before the kill may stay (they are verified); none may be partial or wrong.
        foreach (var blob in Directory.EnumerateFiles(Path.Combine(store.Root, "blobs", "sha256")))
        {
            Assert.Equal("sha256:" + Path.GetFileName(blob), LayerBuilder.Digest(File.ReadAllBytes(blob)));
        }

        await registry.StartAsync();
        proxy.CutBlobsAfterBytes = null;
        Assert.Equal(image.Id, (await manager.PullAsync($"{proxy.Host}/kill/app:v1", null, CancellationToken.None)).Id);
    }

    [Fact]
    public async Task PullAsync_TwoConcurrentPulls_DownloadEachBlobOnce()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(9);
        await registry.Pusher.PushAsync("concurrent/app", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var reference = $"{proxy.Host}/concurrent/app:v1";

        var results = await Task.WhenAll(
            manager.PullAsync(reference, null, CancellationToken.None),
            manager.PullAsync(reference, null, CancellationToken.None));

        Assert.All(results, r => Assert.Equal(image.Id, r.Id));
        foreach (var digest in image.Layers.Select(l => l.Digest).Append(image.ConfigDigest))
        {
            Assert.Equal(1, proxy.Count($"/v2/concurrent/app/blobs/{digest}"));
        }

        Assert.Single(manager.List());
    }

    [Fact]
    public async Task PullAsync_Cancelled_LeavesNothingHalfDone()
    {
        await using var registry = new LocalRegistry();
        await registry.StartAsync();
        var image = BigImage(11);
        await registry.Pusher.PushAsync("cancel/app", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(30));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => manager.PullAsync($"{registry.Host}/cancel/app:v1", null, cts.Token));

        Assert.Empty(manager.List());
        // Background work winds down after the caller gives up; give it a moment.
        for (var i = 0; i < 100 && store.Ingest.Any(); i++)
        {
            await Task.Delay(20);
        }

        Assert.Empty(store.Ingest);
    }
}
