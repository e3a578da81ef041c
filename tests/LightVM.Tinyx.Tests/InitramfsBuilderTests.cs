using LightVM.Tinyx.Elf;
using LightVM.Tinyx.Initramfs;
using LightVM.Tinyx.Native;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Tinyx.Tests;

public class InitramfsBuilderTests
{
    [Fact]
    public async Task BuildAsync_SameInputsTwice_ProducesIdenticalBytes()
    {
        using var dir = new TempDirectory();
        var spec = SampleSpec(dir);

        var first = await Build(dir.Combine("cache1"), spec);
        var second = await Build(dir.Combine("cache2"), spec);

        Assert.Equal(first.Sha256, second.Sha256);
        Assert.Equal(await File.ReadAllBytesAsync(first.Path), await File.ReadAllBytesAsync(second.Path));
        Assert.Equal($"{first.Sha256}.cpio.gz", Path.GetFileName(first.Path));
        Assert.False(first.Reused);
    }

    [Fact]
    public async Task BuildAsync_SameCacheTwice_ReusesPublishedImage()
    {
        using var dir = new TempDirectory();
        var spec = SampleSpec(dir);

        var first = await Build(dir.Combine("cache"), spec);
        var second = await Build(dir.Combine("cache"), spec);

        Assert.True(second.Reused);
        Assert.Equal(first.Path, second.Path);
        Assert.Single(Directory.GetFiles(dir.Combine("cache", "initramfs")));
    }

    [Fact]
    public async Task BuildAsync_ExtractedWithCpio_MatchesInputs()
    {
        using var dir = new TempDirectory();
        var spec = SampleSpec(dir);
        var result = await Build(dir.Combine("cache"), spec);
        var root = dir.Combine("extract");
        Directory.CreateDirectory(root);

        Tools.RunOrFail("sh", "-c", $"cd '{root}' && gzip -dc '{result.Path}' | cpio -idm --quiet");

        Assert.Equal(await File.ReadAllBytesAsync(spec.Init!), await File.ReadAllBytesAsync(Path.Combine(root, "init")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
            File.GetUnixFileMode(Path.Combine(root, "init")));
        Assert.Equal("hello\n", await File.ReadAllTextAsync(Path.Combine(root, "etc/greeting")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "etc/greeting")));
        Assert.Equal("busybox", new FileInfo(Path.Combine(root, "bin/sh")).LinkTarget);
        Assert.Equal(UnixFileType.Directory, UnixFileStatus.Get(Path.Combine(root, "tmp")).Type);
        Assert.Equal(0x3FFu, UnixFileStatus.Get(Path.Combine(root, "tmp")).Permissions);
        var console = UnixFileStatus.Get(Path.Combine(root, "dev/console"));
        Assert.Equal((UnixFileType.CharacterDevice, 5u, 1u), (console.Type, console.RdevMajor, console.RdevMinor));

        // Every file ldd says /bin/ls needs opens at the same path inside the extracted tree, same bytes.
        foreach (var line in Tools.RunOrFail("ldd", "/bin/ls").Split('\n').Where(l => l.Contains("/", StringComparison.Ordinal)))
        {
            var path = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries).First(p => p.StartsWith('/'));
            var inside = new SysRoot(root).Resolve(path);
            Assert.True(inside is not null, $"{path} does not resolve inside the image");
            Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(inside.Value.HostPath));
        }
    }

    [Fact]
    public async Task BuildAsync_Listing_CountsEveryFileOnce()
    {
        using var dir = new TempDirectory();
        var result = await Build(dir.Combine("cache"), SampleSpec(dir));

        var listing = Tools.RunOrFail("sh", "-c", $"gzip -dc '{result.Path}' | cpio -t --quiet").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(result.Entries.Select(e => e.Path.TrimStart('/')), listing);
        Assert.Equal(listing.Length, listing.Distinct().Count());
    }

    [Fact]
    public void Collect_Rootfs_KeepsOwnershipAndSymlinks()
    {
        using var dir = new TempDirectory();
        var rootfs = dir.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(rootfs, "home/app"));
        File.WriteAllText(Path.Combine(rootfs, "home/app/data"), "x");
        Tools.RunOrFail("chown", "-R", "1234:4321", Path.Combine(rootfs, "home/app"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "home/link"), "app/data");
        File.WriteAllText(Path.Combine(rootfs, "init"), "#!/bin/sh\n");

        var tree = InitramfsBuilder.Collect(new InitramfsSpec { Rootfs = rootfs }, CancellationToken.None);

        Assert.True(tree.TryGet("/home/app/data", out var data));
        Assert.Equal((1234u, 4321u), (data.Uid, data.Gid));
        Assert.True(tree.TryGet("/home/link", out var link));
        Assert.Equal("app/data", link.LinkTarget);
        Assert.True(tree.TryGet("/dev/console", out _));
    }

    [Fact]
    public void Collect_TwoDifferentFilesAtOnePath_ThrowsAlreadyExistsNamingBoth()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("a"), "a");
        File.WriteAllText(dir.Combine("b"), "b");
        var spec = new InitramfsSpec { Init = dir.Combine("a") };
        spec.Files.Add(new FileMapping(dir.Combine("a"), "/etc/x"));
        spec.Files.Add(new FileMapping(dir.Combine("b"), "/etc/x"));

        var e = Assert.Throws<TinyxException>(() => InitramfsBuilder.Collect(spec, CancellationToken.None));

        Assert.Equal(TinyxErrorKind.AlreadyExists, e.Kind);
        Assert.Contains("'/etc/x'", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.Combine("a"), e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.Combine("b"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Collect_FileUnderArchiveSymlink_LandsAtTarget()
    {
        var tree = new ArchiveTree();
        tree.Add(new ArchiveEntry("/lib", ArchiveEntryType.Symlink, 0x1FF, 0, 0, "test", LinkTarget: "usr/lib"));

        var path = tree.Add(new ArchiveEntry("/lib/x/libfoo.so", ArchiveEntryType.Directory, 0x1ED, 0, 0, "test"));

        Assert.Equal("/usr/lib/x/libfoo.so", path);
        Assert.True(tree.TryGet("/usr/lib", out var parent) && parent.Implicit);
    }

    [Fact]
    public void Parse_BadMappings_ThrowInvalidArgument()
    {
        Assert.Equal(TinyxErrorKind.InvalidArgument, Assert.Throws<TinyxException>(() => FileMapping.Parse("nocolon", "--elf")).Kind);
        Assert.Equal(TinyxErrorKind.InvalidArgument, Assert.Throws<TinyxException>(() => FileMapping.Parse("/a:relative", "--file")).Kind);
        Assert.Equal(TinyxErrorKind.InvalidArgument, Assert.Throws<TinyxException>(() => DirectorySpec.Parse("/tmp:99")).Kind);
        Assert.Equal(new DirectorySpec("/tmp", 0x3FF), DirectorySpec.Parse("/tmp:1777"));
    }

    private static InitramfsSpec SampleSpec(TempDirectory dir)
    {
        var init = Tools.CompileC(dir, "init", "int main(void) { return 0; }\n", "-static");
        var greeting = dir.Combine("greeting");
        File.WriteAllText(greeting, "hello\n");
        File.SetUnixFileMode(greeting, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var spec = new InitramfsSpec { Init = init, Busybox = true };
        spec.Elves.Add(new FileMapping("/bin/ls", "/bin/ls"));
        spec.Files.Add(new FileMapping(greeting, "/etc/greeting"));
        spec.Directories.Add(DirectorySpec.Parse("/tmp:1777"));
        spec.Directories.Add(DirectorySpec.Parse("/proc"));
        return spec;
    }

    private static Task<InitramfsResult> Build(string cache, InitramfsSpec spec) =>
        new InitramfsBuilder(new TinyxOptions { CacheDirectory = cache }, NullLogger<InitramfsBuilder>.Instance).BuildAsync(spec, CancellationToken.None);
}
