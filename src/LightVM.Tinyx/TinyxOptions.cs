namespace LightVM.Tinyx;

/// <summary>Where the guest builder finds its inputs and keeps its outputs. Every path comes from here.</summary>
public sealed class TinyxOptions
{
    public const string DefaultCacheDirectory = "/var/cache/lightvm";

    /// <summary>Root of the cache; kernels go to kernel/, initramfs images to initramfs/.</summary>
    public string CacheDirectory { get; set; } = DefaultCacheDirectory;

    /// <summary>The kernel source tarball (Debian's linux-source-6.1 package by default).</summary>
    public string KernelSource { get; set; } = "/usr/src/linux-source-6.1.tar.xz";

    /// <summary>The config fragment applied on top of tinyconfig; shipped next to the tool.</summary>
    public string KernelConfigFragment { get; set; } = Path.Combine(AppContext.BaseDirectory, "kernel", "lightvm-guest.config");

    /// <summary>Parallel make jobs for the kernel build.</summary>
    public int Jobs { get; set; } = Environment.ProcessorCount;

    public string KernelCacheDirectory => Path.Combine(CacheDirectory, "kernel");

    public string InitramfsCacheDirectory => Path.Combine(CacheDirectory, "initramfs");

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(CacheDirectory) || !Path.IsPathRooted(CacheDirectory))
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"cache directory '{CacheDirectory}' must be an absolute path");
        }

        if (Jobs < 1)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"jobs must be at least 1, got {Jobs}");
        }
    }
}
