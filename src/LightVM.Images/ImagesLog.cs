using Microsoft.Extensions.Logging;

namespace LightVM.Images;

/// <summary>Log messages of the image service; event ids 3000-3099 are stable.</summary>
internal static partial class ImagesLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Pulling image {Image}")]
    public static partial void PullStarted(ILogger logger, string image);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "Pulled image {Image} as {ImageId} ({Size} bytes) in {Seconds:F2} s")]
    public static partial void PullCompleted(ILogger logger, string image, string imageId, long size, double seconds);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information,
        Message = "Pulling image {Image}: blob {Digest} {Done}/{Total} bytes")]
    public static partial void BlobProgress(ILogger logger, string image, string digest, long done, long total);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning,
        Message = "{What}: attempt {Attempt} of {Attempts} failed ({Reason}); retrying in {DelayMs} ms")]
    public static partial void Retrying(ILogger logger, string what, int attempt, int attempts, string reason, int delayMs);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning,
        Message = "Pulling image {Image}: {Endpoint} failed ({Reason}); trying the next endpoint")]
    public static partial void EndpointFailed(ILogger logger, string image, string endpoint, string reason);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Removed image {ImageId} ({Names})")]
    public static partial void ImageRemoved(ILogger logger, string imageId, string names);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Information,
        Message = "Image garbage collection deleted {Blobs} blobs and {Snapshots} snapshots")]
    public static partial void GarbageCollected(ILogger logger, int blobs, int snapshots);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information,
        Message = "Deleted {Ingest} partial blobs and {Snapshots} partial snapshots left by an interrupted run")]
    public static partial void CleanedTemporary(ILogger logger, int ingest, int snapshots);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Debug,
        Message = "Pulling image {Image}: unpacked layer {Digest} in {Seconds:F2} s")]
    public static partial void LayerUnpacked(ILogger logger, string image, string digest, double seconds);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Debug,
        Message = "Pulling image {Image}: downloaded blob {Digest} ({Bytes} bytes) in {Seconds:F2} s")]
    public static partial void BlobDownloaded(ILogger logger, string image, string digest, long bytes, double seconds);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning,
        Message = "Image {ImageId} lacks content ({Missing}); it will be pulled again when next asked for")]
    public static partial void ImageIncomplete(ILogger logger, string imageId, string missing);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Untagged {Name} from image {ImageId}")]
    public static partial void Untagged(ILogger logger, string name, string imageId);
}
