using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

public sealed class PullTests(RegistryFixture registry, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task PullAsync_ByTag_StoresImageWithContainerdNames()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("test/busybox", "1.0", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/test/busybox:1.0", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        Assert.Equal([$"{registry.Host}/test/busybox:1.0"], record.RepoTags);
        Assert.Equal([$"{registry.Host}/test/busybox@{image.ManifestDigest}"], record.RepoDigests);
        Assert.Equal(image.Size, record.Size);
        Assert.Equal(["/bin/sh"], record.Config.Cmd);
        Assert.Single(record.Layers);
        Assert.Equal(image.Layers[0].DiffId, record.Layers[0].DiffId);
        Assert.True(File.Exists(store.BlobPath(image.Layers[0].Digest)));
        Assert.True(File.Exists(store.BlobPath(image.ManifestDigest)));
        Assert.Empty(store.Ingest);
        var layers = manager.GetRootfsLayers(record);
        var busybox = Path.Combine(layers[0], "bin", "busybox");
        Assert.Equal(new FileInfo(BusyboxImage.BusyboxPath).Length, new FileInfo(busybox).Length);
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(layers[0], "bin", "sh")).LinkTarget);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                     | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(busybox));
        Assert.Contains(store.Logger.Lines, l => l.Contains("[3002]", StringComparison.Ordinal));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(store.Root));
    }

    [Fact]
    public async Task PullAsync_ByDigest_HasNoTagAndKeepsDigest()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("hello", "by digest").Build()).Build();
        await registry.Pusher.PushAsync("test/bydigest", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var reference = $"{registry.Host}/test/bydigest@{image.ManifestDigest}";

        var record = await manager.PullAsync(reference, null, CancellationToken.None);

        Assert.Empty(record.RepoTags);
        Assert.Equal([reference], record.RepoDigests);
        Assert.Equal(record.Id, manager.Find(reference)?.Id);
    }

    [Fact]
    public async Task PullAsync_UnknownTagOrRepository_NotFoundNamingImage()
    {
        await registry.Pusher.PushAsync("test/exists", "v1", new OciImageBuilder(new LayerBuilder().File("x", "x").Build()).Build());
        using var store = new ImageStore(output);
        var manager = store.Open();

        var tag = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync($"{registry.Host}/test/exists:nope", null, CancellationToken.None));
        var repo = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync($"{registry.Host}/test/absent:v1", null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.NotFound, tag.Kind);
        Assert.Contains($"{registry.Host}/test/exists:nope", tag.Message, StringComparison.Ordinal);
        Assert.Equal(ImageErrorKind.NotFound, repo.Kind);
        Assert.Empty(manager.List());
    }

    [Fact]
    public async Task PullAsync_BadReference_InvalidArgument()
    {
        using var store = new ImageStore(output);
        var manager = store.Open();

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync("Not//Valid", null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.InvalidArgument, e.Kind);
    }

    [Theory]
    [InlineData(LayerCompression.Zstd, false)]
    [InlineData(LayerCompression.None, false)]
    [InlineData(LayerCompression.Gzip, true)]
    public async Task PullAsync_CompressionsAndDockerTypes_Unpacked(LayerCompression compression, bool docker)
    {
        var image = new OciImageBuilder(
            new LayerBuilder().Directory("etc").File("etc/os-release", $"ID={compression}\n").Build(compression),
            new LayerBuilder().File("etc/second", "2").Build(compression)) { DockerMediaTypes = docker, Comment = $"{compression}{docker}" }.Build();
        var repo = $"test/compression-{compression.ToString().ToLowerInvariant()}-{docker.ToString().ToLowerInvariant()}";
        await registry.Pusher.PushAsync(repo, "latest", image, chunked: true);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/{repo}", null, CancellationToken.None);

        var layers = manager.GetRootfsLayers(record);
        Assert.Equal(2, layers.Count);
        Assert.Equal("2", File.ReadAllText(Path.Combine(layers[0], "etc", "second")));
        Assert.Equal($"ID={compression}\n", File.ReadAllText(Path.Combine(layers[1], "etc", "os-release")));
    }

    [Fact]
    public async Task PullAsync_MultiArchIndex_PicksLinuxAmd64()
    {
        var amd64 = new OciImageBuilder(new LayerBuilder().File("arch", "amd64").Build()) { Comment = "amd64" }.Build();
        var arm64 = new OciImageBuilder(new LayerBuilder().File("arch", "arm64").Build()) { Architecture = "arm64", Comment = "arm64" }.Build();
        var windows = new OciImageBuilder(new LayerBuilder().File("arch", "windows").Build()) { Os = "windows", Comment = "win" }.Build();
        var index = OciImageBuilder.Index(false, (arm64, "linux", "arm64", "v8"), (windows, "windows", "amd64", null), (amd64, "linux", "amd64", null));
        await registry.Pusher.PushIndexAsync("test/multiarch", "latest", index);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/test/multiarch:latest", null, CancellationToken.None);

        Assert.Equal(amd64.Id, record.Id);
        Assert.Equal([$"{registry.Host}/test/multiarch@{index.Digest}"], record.RepoDigests);
        Assert.Equal("amd64", File.ReadAllText(Path.Combine(manager.GetRootfsLayers(record)[0], "arch")));
        Assert.False(File.Exists(store.BlobPath(arm64.Layers[0].Digest)));
        Assert.True(File.Exists(store.BlobPath(index.Digest)));
    }

    [Fact]
    public async Task PullAsync_IndexWithoutAmd64_NotFoundListingPlatforms()
    {
        var arm64 = new OciImageBuilder(new LayerBuilder().File("arch", "arm64 only").Build()) { Architecture = "arm64" }.Build();
        await registry.Pusher.PushIndexAsync("test/armonly", "latest", OciImageBuilder.Index(true, (arm64, "linux", "arm64", null)));
        using var store = new ImageStore(output);
        var manager = store.Open();

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync($"{registry.Host}/test/armonly", null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.NotFound, e.Kind);
        Assert.Contains("linux/arm64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullAsync_ConfigFields_Parsed()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("app", "x").Build())
        {
            User = "1000:1000",
            Env = ["A=1", "PATH=/bin"],
            Entrypoint = ["/app"],
            Cmd = ["--serve"],
            WorkingDir = "/work",
            Labels = new Dictionary<string, string> { ["org.example"] = "yes" },
            StopSignal = "SIGQUIT",
        }.Build();
        await registry.Pusher.PushAsync("test/config", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/test/config:v1", null, CancellationToken.None);

        Assert.Equal(1000, record.Uid);
        Assert.Equal("", record.Username);
        Assert.Equal(["A=1", "PATH=/bin"], record.Config.Env);
        Assert.Equal(["/app"], record.Config.Entrypoint);
        Assert.Equal(["--serve"], record.Config.Cmd);
        Assert.Equal("/work", record.Config.WorkingDir);
        Assert.Equal("yes", record.Config.Labels["org.example"]);
        Assert.Equal("SIGQUIT", record.Config.StopSignal);
        Assert.Equal("amd64", record.Config.Architecture);
    }

    [Fact]
    public async Task Find_ByIdPrefixNameDigest_AndPinned()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("f", "find me").Build()).Build();
        await registry.Pusher.PushAsync("test/find", "v1", image);
        using var store = new ImageStore(output, new ImagesOptions { Pinned = [$"{registry.Host}/test/find:v1"] });
        var manager = store.Open();
        await manager.PullAsync($"{registry.Host}/test/find:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, manager.Find(image.Id)?.Id);
        Assert.Equal(image.Id, manager.Find(image.Id[7..])?.Id);
        Assert.Equal(image.Id, manager.Find(image.Id[7..19])?.Id);
        Assert.Equal(image.Id, manager.Find($"{registry.Host}/test/find:v1")?.Id);
        Assert.Equal(image.Id, manager.Find($"{registry.Host}/test/find@{image.ManifestDigest}")?.Id);
        Assert.Null(manager.Find($"{registry.Host}/test/find:v2"));
        Assert.Null(manager.Find("sha256:" + new string('0', 64)));
        Assert.Null(manager.Find("busybox"));
        Assert.True(manager.Find(image.Id)!.Pinned);
        Assert.True(manager.List().Single().Pinned);
    }

    [Fact]
    public async Task PullAsync_TagMoved_OldImageKeepsDigestOnly()
    {
        var v1 = new OciImageBuilder(new LayerBuilder().File("v", "1").Build()).Build();
        var v2 = new OciImageBuilder(new LayerBuilder().File("v", "2").Build()).Build();
        using var store = new ImageStore(output);
        var manager = store.Open();
        var name = $"{registry.Host}/test/moving:latest";
        await registry.Pusher.PushAsync("test/moving", "latest", v1);
        await manager.PullAsync(name, null, CancellationToken.None);
        await registry.Pusher.PushAsync("test/moving", "latest", v2);

        await manager.PullAsync(name, null, CancellationToken.None);

        var old = manager.Find(v1.Id)!;
        var current = manager.Find(name)!;
        Assert.Equal(v2.Id, current.Id);
        Assert.Empty(old.RepoTags);
        Assert.Equal([$"{registry.Host}/test/moving@{v1.ManifestDigest}"], old.RepoDigests);
        Assert.Equal(2, manager.List().Count);
    }

    [Fact]
    public async Task Restart_NewManagerOnSameState_StillListsAndFindsLayers()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("persist", "yes").Build()).Build();
        await registry.Pusher.PushAsync("test/persist", "v1", image);
        using var store = new ImageStore(output);
        var first = store.Open();
        await first.PullAsync($"{registry.Host}/test/persist:v1", null, CancellationToken.None);

        var second = store.Open();

        var record = Assert.Single(second.List());
        Assert.Equal(image.Id, record.Id);
        Assert.Equal("yes", File.ReadAllText(Path.Combine(second.GetRootfsLayers(record)[0], "persist")));
    }

    [Fact]
    public async Task Restart_AfterCrashLeftovers_CleansIngestAndTempSnapshots()
    {
        using var store = new ImageStore(output);
        store.Open();
        var ingest = Path.Combine(store.Root, "ingest", "deadbeef-partial");
        File.WriteAllText(ingest, "half a blob");
        var temp = Path.Combine(store.Root, "snapshots", "tmp-" + new string('a', 64) + "-x");
        Directory.CreateDirectory(Path.Combine(temp, "usr"));
        var orphan = Path.Combine(store.Root, "blobs", "sha256", new string('c', 64));
        File.WriteAllText(orphan, "unreferenced");

        store.Open();

        Assert.False(File.Exists(ingest));
        Assert.False(Directory.Exists(temp));
        Assert.False(File.Exists(orphan));
    }

    [Fact]
    public async Task GetFsUsage_AfterPull_CountsStore()
    {
        await registry.Pusher.PushAsync("test/usage", "v1", BusyboxImage.Build());
        using var store = new ImageStore(output);
        var manager = store.Open();
        var before = manager.GetFsUsage();

        await manager.PullAsync($"{registry.Host}/test/usage:v1", null, CancellationToken.None);
        var after = manager.GetFsUsage();

        Assert.True(after.UsedBytes > before.UsedBytes + new FileInfo(BusyboxImage.BusyboxPath).Length);
        Assert.True(after.InodesUsed > before.InodesUsed + 100);
        Assert.StartsWith("/", after.MountPoint, StringComparison.Ordinal);
        Assert.StartsWith(after.MountPoint, store.Root, StringComparison.Ordinal);
    }
}
