using System.Diagnostics;
using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

public sealed class UnpackTests(RegistryFixture registry, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    public static TheoryData<string, Func<LayerBuilder>, string> Hostile => new()
    {
        { "dotdot", () => new LayerBuilder().File("../escaped", "x"), "../escaped" },
        { "dotdot-inner", () => new LayerBuilder().Directory("a").File("a/../../escaped", "x"), "a/../../escaped" },
        { "absolute", () => new LayerBuilder().File("/tmp/lightvm-escaped", "x"), "/tmp/lightvm-escaped" },
        { "symlink-absolute", () => new LayerBuilder().Symlink("etc", "/tmp").File("etc/lightvm-escaped", "x"), "etc/lightvm-escaped" },
        { "symlink-relative", () => new LayerBuilder().Directory("a").Symlink("a/up", "../../../../../../tmp").File("a/up/lightvm-escaped", "x"), "a/up/lightvm-escaped" },
        { "symlink-chain", () => new LayerBuilder().Symlink("one", "two").Symlink("two", "..").File("one/lightvm-escaped", "x"), "one/lightvm-escaped" },
        { "hardlink-outside", () => new LayerBuilder().HardLink("passwd", "../../../../../../etc/passwd"), "passwd" },
        { "hardlink-absolute", () => new LayerBuilder().HardLink("passwd", "/etc/passwd"), "passwd" },
        { "hardlink-through-symlink", () => new LayerBuilder().Symlink("etcdir", "/etc").HardLink("passwd", "etcdir/passwd"), "passwd" },
        { "whiteout-dotdot", () => new LayerBuilder().File("../.wh.victim", ""), "../.wh.victim" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task PullAsync_HostileLayer_RefusedNamingEntryAndNothingEscapes(string kind, Func<LayerBuilder> layer, string entry)
    {
        var image = new OciImageBuilder(new LayerBuilder().File("ok", "fine").Build(), layer().Build()) { Comment = kind }.Build();
        await registry.Pusher.PushAsync($"hostile/{kind}", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync($"{registry.Host}/hostile/{kind}:v1", null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains($"'{entry}'", e.Message, StringComparison.Ordinal);
        Assert.Contains($"hostile/{kind}", e.Message, StringComparison.Ordinal);
        Assert.Contains(image.Layers[1].Digest, e.Message, StringComparison.Ordinal);
        Assert.Empty(manager.List());
        Assert.False(File.Exists("/tmp/lightvm-escaped"));
        Assert.False(File.Exists(Path.Combine(store.Root, "snapshots", "escaped")));
        Assert.False(File.Exists(Path.Combine(store.Root, "escaped")));
        var leftovers = Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "snapshots"), "*", SearchOption.AllDirectories).ToList();
        Assert.True(!store.SnapshotDirs.Any(d => d.StartsWith("tmp-", StringComparison.Ordinal)), string.Join("\n", leftovers));
        Assert.DoesNotContain(store.SnapshotDirs, d => d.StartsWith("tmp-", StringComparison.Ordinal));
        Assert.False(Directory.Exists(store.SnapshotPath(image.Layers[1].DiffId)), string.Join("\n", leftovers));
    }

    [Fact]
    public async Task PullAsync_FileOverSymlinkInSameLayer_ReplacesLinkNotTarget()
    {
        var victim = Path.Combine(Path.GetTempPath(), $"lightvm-victim-{Guid.NewGuid():N}");
        File.WriteAllText(victim, "untouched");
        try
        {
            var image = new OciImageBuilder(new LayerBuilder().Symlink("x", victim).File("x", "replaced").Build()).Build();
            await registry.Pusher.PushAsync("unpack/oversymlink", "v1", image);
            using var store = new ImageStore(output);
            var manager = store.Open();

            var record = await manager.PullAsync($"{registry.Host}/unpack/oversymlink:v1", null, CancellationToken.None);

            var x = Path.Combine(manager.GetRootfsLayers(record)[0], "x");
            Assert.Null(new FileInfo(x).LinkTarget);
            Assert.Equal("replaced", File.ReadAllText(x));
            Assert.Equal("untouched", File.ReadAllText(victim));
        }
        finally
        {
            File.Delete(victim);
        }
    }

    [Fact]
    public async Task PullAsync_SymlinkStayingInside_IsFollowed()
    {
        var image = new OciImageBuilder(new LayerBuilder()
            .Directory("usr").Directory("usr/lib").Symlink("lib", "usr/lib").File("lib/libx.so", "lib").Build()).Build();
        await registry.Pusher.PushAsync("unpack/innerlink", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/unpack/innerlink:v1", null, CancellationToken.None);

        var root = manager.GetRootfsLayers(record)[0];
        Assert.Equal("lib", File.ReadAllText(Path.Combine(root, "usr", "lib", "libx.so")));
        Assert.Equal("usr/lib", new FileInfo(Path.Combine(root, "lib")).LinkTarget);
    }

    [Fact]
    public async Task PullAsync_Metadata_ModesOwnersTimesLinksDevicesXattrsPreserved()
    {
        var mtime = new DateTimeOffset(2020, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var image = new OciImageBuilder(new LayerBuilder()
            .Directory("data", mode: 0b111_000_000, uid: 1234, gid: 5678, mtime: mtime)
            .File("data/setuid", "s", mode: 0b100_111_101_101, uid: 1234, gid: 5678, mtime: mtime)
            .File("data/xattr", "x", xattrs: new Dictionary<string, string> { ["user.lightvm"] = "hello" })
            .HardLink("data/hard", "data/setuid")
            .Symlink("data/link", "setuid", uid: 42, gid: 43)
            .CharDevice("data/null", 1, 3)
            .Fifo("data/fifo")
            .Build()).Build();
        await registry.Pusher.PushAsync("unpack/meta", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/unpack/meta:v1", null, CancellationToken.None);

        var data = Path.Combine(manager.GetRootfsLayers(record)[0], "data");
        var dir = Stat(data);
        Assert.Equal("700 1234 5678 directory", $"{dir.Mode} {dir.Uid} {dir.Gid} {dir.Type}");
        Assert.Equal(mtime.ToUnixTimeSeconds(), dir.MTime);
        var setuid = Stat(Path.Combine(data, "setuid"));
        Assert.Equal("4755 1234 5678 regular file", $"{setuid.Mode} {setuid.Uid} {setuid.Gid} {setuid.Type}");
        Assert.Equal(mtime.ToUnixTimeSeconds(), setuid.MTime);
        var hard = Stat(Path.Combine(data, "hard"));
        Assert.Equal(setuid.Inode, hard.Inode);
        Assert.Equal(2, hard.Links);
        var link = Stat(Path.Combine(data, "link"));
        Assert.Equal("42 43 symbolic link", $"{link.Uid} {link.Gid} {link.Type}");
        var dev = Stat(Path.Combine(data, "null"));
        Assert.Equal("character special file 1,3", $"{dev.Type} {dev.Major},{dev.Minor}");
        Assert.Equal("fifo", Stat(Path.Combine(data, "fifo")).Type);
        Assert.Equal("hello", Xattr.Get(Path.Combine(data, "xattr"), "user.lightvm"));
    }

    [Fact]
    public async Task PullAsync_Whiteouts_StoredInOverlayForm()
    {
        var image = new OciImageBuilder(
            new LayerBuilder().Directory("etc").File("etc/gone", "x").Directory("cache").File("cache/old", "o").Build(),
            new LayerBuilder().Whiteout("etc/gone").Opaque("cache").File("cache/new", "n").Build()).Build();
        await registry.Pusher.PushAsync("unpack/whiteout", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();

        var record = await manager.PullAsync($"{registry.Host}/unpack/whiteout:v1", null, CancellationToken.None);

        var top = manager.GetRootfsLayers(record)[0];
        var whiteout = Stat(Path.Combine(top, "etc", "gone"));
        Assert.Equal("character special file 0,0 0 0", $"{whiteout.Type} {whiteout.Major},{whiteout.Minor} {whiteout.Uid} {whiteout.Gid}");
        Assert.False(File.Exists(Path.Combine(top, "etc", ".wh.gone")));
        Assert.False(File.Exists(Path.Combine(top, "cache", ".wh..wh..opq")));
        Assert.Equal("y", Xattr.Get(Path.Combine(top, "cache"), "trusted.overlay.opaque"));
    }

    [Fact]
    public async Task MergedOverlay_WhiteoutsAndOpaqueDirs_GiveTheRightView()
    {
        var image = new OciImageBuilder(
            BusyboxImage.Rootfs().Directory("app").File("app/keep", "k").File("app/drop", "d").Directory("app/sub").File("app/sub/f", "f")
                .Directory("cache").File("cache/old", "o").Build(),
            new LayerBuilder().Whiteout("app/drop").Whiteout("app/sub").Opaque("cache").File("cache/new", "n").File("app/added", "a").Build(),
            new LayerBuilder().Directory("app").File("app/keep", "k2").Whiteout("bin/ls").Build()).Build();
        await registry.Pusher.PushAsync("overlay/merged", "v1", image);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var record = await manager.PullAsync($"{registry.Host}/overlay/merged:v1", null, CancellationToken.None);
        var lower = string.Join(':', manager.GetRootfsLayers(record));
        var work = Directory.CreateTempSubdirectory("lightvm-ovl-").FullName;
        var (upper, workdir, merged) = (Path.Combine(work, "upper"), Path.Combine(work, "work"), Path.Combine(work, "merged"));
        foreach (var d in new[] { upper, workdir, merged })
        {
            Directory.CreateDirectory(d);
        }

        Run("mount", "-t", "overlay", "overlay", "-o", $"lowerdir={lower},upperdir={upper},workdir={workdir}", merged);
        try
        {
            Assert.Equal(["added", "keep"], Directory.EnumerateFileSystemEntries(Path.Combine(merged, "app")).Select(Path.GetFileName).Order());
            Assert.Equal("k2", File.ReadAllText(Path.Combine(merged, "app", "keep")));
            Assert.Equal(["new"], Directory.EnumerateFileSystemEntries(Path.Combine(merged, "cache")).Select(Path.GetFileName));
            Assert.False(File.Exists(Path.Combine(merged, "bin", "ls")));
            Assert.True(File.Exists(Path.Combine(merged, "bin", "cat")));
            // The merged rootfs runs: busybox from the bottom layer sees the merged view.
            Assert.Equal("added keep", Run("chroot", merged, "/bin/sh", "-c", "cd /app && echo *"));
        }
        finally
        {
            Run("umount", merged);
            Directory.Delete(work, recursive: true);
        }
    }

    private static (string Mode, string Uid, string Gid, string Type, long MTime, string Inode, int Links, string Major, string Minor) Stat(string path)
    {
        var f = Run("stat", "-c", "%a|%u|%g|%F|%Y|%i|%h|%t|%T", path).Split('|');
        return (f[0], f[1], f[2], f[3], long.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture), f[5],
            int.Parse(f[6], System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt32(f[7], 16).ToString(System.Globalization.CultureInfo.InvariantCulture),
            Convert.ToInt32(f[8], 16).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {stderr}");
        return stdout.Trim();
    }
}
