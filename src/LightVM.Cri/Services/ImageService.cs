using System.Text.Json;
using Grpc.Core;
using LightVM.Images;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

/// <summary>
/// CRI ImageService over the image manager: handlers validate, call it and map its records to CRI messages.
/// Replies use containerd's forms for RepoTags (<c>docker.io/library/busybox:latest</c>) and RepoDigests.
/// </summary>
internal sealed class ImageService : V1.ImageService.ImageServiceBase
{
    private static readonly JsonSerializerOptions VerboseJson = new(JsonSerializerDefaults.Web) { WriteIndented = false };
    private readonly ImageManager _images;

    public ImageService(ImageManager images) => _images = images;

    public override Task<V1.ListImagesResponse> ListImages(V1.ListImagesRequest request, ServerCallContext context)
    {
        var response = new V1.ListImagesResponse();
        var filter = request.Filter?.Image?.Image;
        IEnumerable<ImageRecord> images = _images.List();
        if (!string.IsNullOrEmpty(filter))
        {
            var match = _images.Find(filter);
            images = match is null ? [] : [match];
        }

        response.Images.AddRange(images.Select(ToCri));
        return Task.FromResult(response);
    }

    public override Task<V1.ImageStatusResponse> ImageStatus(V1.ImageStatusRequest request, ServerCallContext context)
    {
        var name = RequireImage(request.Image, "ImageStatus");
        var response = new V1.ImageStatusResponse();
        // An absent image is a nil image, not an error: kubelet asks before every pull.
        var image = _images.Find(name);
        if (image is null)
        {
            return Task.FromResult(response);
        }

        response.Image = ToCri(image);
        if (request.Verbose)
        {
            response.Info.Add("info", JsonSerializer.Serialize(new
            {
                image.Id,
                image.ConfigDigest,
                ChainIds = image.ChainIds.ToList(),
                image.Layers,
                image.PulledAt,
                ImageSpec = image.Config,
            }, VerboseJson));
        }

        return Task.FromResult(response);
    }

    public override async Task<V1.PullImageResponse> PullImage(V1.PullImageRequest request, ServerCallContext context)
    {
        var name = RequireImage(request.Image, "PullImage");
        RegistryAuth? auth = null;
        if (request.Auth is { } a)
        {
            auth = new RegistryAuth
            {
                Username = a.Username,
                Password = a.Password,
                Auth = a.Auth,
                IdentityToken = a.IdentityToken,
                RegistryToken = a.RegistryToken,
            };
        }

        var image = await _images.PullAsync(name, auth is { IsEmpty: false } ? auth : null, context.CancellationToken).ConfigureAwait(false);
        return new V1.PullImageResponse { ImageRef = image.Id };
    }

    public override async Task<V1.RemoveImageResponse> RemoveImage(V1.RemoveImageRequest request, ServerCallContext context)
    {
        var name = RequireImage(request.Image, "RemoveImage");
        // Removing an absent image succeeds, as with containerd: kubelet's image GC may race with itself.
        await _images.RemoveAsync(name, context.CancellationToken).ConfigureAwait(false);
        return new V1.RemoveImageResponse();
    }

    public override Task<V1.ImageFsInfoResponse> ImageFsInfo(V1.ImageFsInfoRequest request, ServerCallContext context)
    {
        var usage = _images.GetFsUsage();
        var fs = new V1.FilesystemUsage
        {
            Timestamp = usage.Timestamp.ToUnixTimeMilliseconds() * 1_000_000,
            FsId = new V1.FilesystemIdentifier { Mountpoint = usage.MountPoint },
            UsedBytes = new V1.UInt64Value { Value = (ulong)Math.Max(0, usage.UsedBytes) },
            InodesUsed = new V1.UInt64Value { Value = (ulong)Math.Max(0, usage.InodesUsed) },
        };
        var response = new V1.ImageFsInfoResponse();
        response.ImageFilesystems.Add(fs);
        return Task.FromResult(response);
    }

    private static string RequireImage(V1.ImageSpec? spec, string rpc)
    {
        if (spec is null || string.IsNullOrWhiteSpace(spec.Image))
        {
            throw new ImageException(ImageErrorKind.InvalidArgument, $"{rpc}: image must be set (ImageSpec.image is empty)");
        }

        return spec.Image.Trim();
    }

    private static V1.Image ToCri(ImageRecord image)
    {
        var result = new V1.Image
        {
            Id = image.Id,
            Size = (ulong)Math.Max(0, image.Size),
            Username = image.Username,
            Pinned = image.Pinned,
            Spec = new V1.ImageSpec { Image = image.Id },
        };
        result.RepoTags.AddRange(image.RepoTags);
        result.RepoDigests.AddRange(image.RepoDigests);
        if (image.Uid is { } uid)
        {
            result.Uid = new V1.Int64Value { Value = uid };
        }

        return result;
    }
}
