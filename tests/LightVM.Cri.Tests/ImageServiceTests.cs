using Grpc.Core;
using LightVM.Testing;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Tests;

/// <summary>CRI ImageService through the real daemon against a real local registry.</summary>
public sealed class ImageServiceTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static V1.ImageSpec Spec(string image) => new() { Image = image };

    [Fact]
    public async Task PullImage_ByTag_ListedWithContainerdFormsAndStatusFound()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("tools/busybox", "1.36", image);
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();
        var name = $"{registry.Host}/tools/busybox:1.36";

        var pulled = await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec(name) });

        Assert.Equal(image.Id, pulled.ImageRef);
        var listed = Assert.Single((await cri.Images.ListImagesAsync(new V1.ListImagesRequest())).Images);
        Assert.Equal([name], listed.RepoTags);
        Assert.Equal([$"{registry.Host}/tools/busybox@{image.ManifestDigest}"], listed.RepoDigests);
        Assert.Equal((ulong)image.Size, listed.Size);
        var status = await cri.Images.ImageStatusAsync(new V1.ImageStatusRequest { Image = Spec(name), Verbose = true });
        Assert.Equal(image.Id, status.Image.Id);
        Assert.Contains("\"cmd\"", status.Info["info"], StringComparison.OrdinalIgnoreCase);
        var fs = Assert.Single((await cri.Images.ImageFsInfoAsync(new V1.ImageFsInfoRequest())).ImageFilesystems);
        Assert.True(fs.UsedBytes.Value > 0);
        Assert.False(string.IsNullOrEmpty(fs.FsId.Mountpoint));
    }

    [Fact]
    public async Task ImageStatus_Absent_NilImageNotError()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var status = await cri.Images.ImageStatusAsync(new V1.ImageStatusRequest { Image = Spec("docker.io/library/nothere:1") });

        Assert.Null(status.Image);
    }

    [Fact]
    public async Task PullImage_UnknownTag_NotFound()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec($"{registry.Host}/nope/nope:missing") }));

        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("nope/nope", e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PullImage_EmptySpec_InvalidArgument()
    {
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
            await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec("") }));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task RemoveImage_PulledThenRemovedTwice_GoneAndSecondSucceeds()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("rm/busybox", "latest", image);
        using var dir = new TempDirectory();
        await using var daemon = await DaemonProcess.StartAsync(dir.Path);
        using var cri = daemon.Connect();
        var name = $"{registry.Host}/rm/busybox";
        await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec(name) });

        await cri.Images.RemoveImageAsync(new V1.RemoveImageRequest { Image = Spec(image.Id) });
        await cri.Images.RemoveImageAsync(new V1.RemoveImageRequest { Image = Spec(name) });

        Assert.Empty((await cri.Images.ListImagesAsync(new V1.ListImagesRequest())).Images);
        Assert.Null((await cri.Images.ImageStatusAsync(new V1.ImageStatusRequest { Image = Spec(name) })).Image);
    }

    [Fact]
    public async Task PullImage_DockerHubNameThroughConfiguredMirror_KeepsOriginalName()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("library/busybox", "latest", image);
        using var dir = new TempDirectory();
        var config = dir.Combine("config.toml");
        await File.WriteAllTextAsync(config, $"""
            [images.registries."docker.io"]
            mirrors = ["http://{registry.Host}"]
            """);
        await using var daemon = await DaemonProcess.StartAsync(dir.Path, ["--config", config]);
        using var cri = daemon.Connect();

        var pulled = await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec("busybox") });

        Assert.Equal(image.Id, pulled.ImageRef);
        var status = await cri.Images.ImageStatusAsync(new V1.ImageStatusRequest { Image = Spec("busybox") });
        Assert.Equal(["docker.io/library/busybox:latest"], status.Image.RepoTags);
    }

    [Fact]
    public async Task Restart_PulledImage_StillListed()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("keep/busybox", "v1", image);
        using var dir = new TempDirectory();
        var name = $"{registry.Host}/keep/busybox:v1";
        await using (var daemon = await DaemonProcess.StartAsync(dir.Path))
        {
            using var cri = daemon.Connect();
            await cri.Images.PullImageAsync(new V1.PullImageRequest { Image = Spec(name) });
        }

        await using var restarted = await DaemonProcess.StartAsync(dir.Path);
        using var client = restarted.Connect();
        var status = await client.Images.ImageStatusAsync(new V1.ImageStatusRequest { Image = Spec(name) });
        Assert.Equal(image.Id, status.Image.Id);
    }
}
