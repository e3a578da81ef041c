using LightVM.Tinyx.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Tinyx.Tests;

/// <summary>
/// Builds (or reuses) the guest kernel once for the QEMU tests. The cache is shared with hack/ scripts and the
/// daemon so a CI run builds the kernel once: LIGHTVM_CACHE_DIR, else /var/cache/lightvm.
/// </summary>
public sealed class GuestKernelFixture : IAsyncLifetime
{
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("LIGHTVM_CACHE_DIR") is { Length: > 0 } dir ? dir : TinyxOptions.DefaultCacheDirectory;

    public KernelBuildResult Kernel { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var options = new TinyxOptions { CacheDirectory = CacheDirectory };
        Kernel = await new KernelBuilder(options, NullLogger<KernelBuilder>.Instance).BuildAsync(verbose: false, CancellationToken.None);
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
