using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace LightVM.Tinyx.Kernel;

/// <summary>A guest kernel in the cache.</summary>
public sealed record KernelBuildResult(string VmlinuxPath, string ConfigPath, string Key, long Size, bool Reused, TimeSpan Elapsed);

/// <summary>
/// Builds the guest vmlinux: extract the source tarball, tinyconfig, append our fragment, olddefconfig, check that
/// every fragment option survived, make vmlinux. The result is cached under kernel/&lt;key&gt;/ where the key hashes
/// the tarball's bytes, the fragment and <see cref="ConfigStepVersion"/>; it is built in a temp directory and
/// renamed into place, so a half-built kernel is never visible.
/// </summary>
public sealed class KernelBuilder
{
    /// <summary>Bump when the build steps change in a way that changes the result (part of the cache key).</summary>
    public const string ConfigStepVersion = "1";

    private const string LockSuffix = ".lock";
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(15);
    private readonly TinyxOptions _options;
    private readonly ILogger _logger;

    public KernelBuilder(TinyxOptions options, ILogger<KernelBuilder> logger)
    {
        _options = options;
        _logger = logger;
    }

    public async Task<string> ComputeKeyAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_options.KernelSource))
        {
            throw new TinyxException(TinyxErrorKind.NotFound, $"kernel source '{_options.KernelSource}' does not exist (apt-get install linux-source-6.1)");
        }

        var fragment = await ReadFragmentAsync(cancellationToken).ConfigureAwait(false);
        byte[] sourceHash;
        await using (var source = File.OpenRead(_options.KernelSource))
        {
            sourceHash = await SHA256.HashDataAsync(source, cancellationToken).ConfigureAwait(false);
        }

        var material = $"source-sha256={Convert.ToHexStringLower(sourceHash)}\nsteps={ConfigStepVersion}\narch=x86_64\nfragment=\n{fragment}";
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(material)))[..32];
    }

    public async Task<KernelBuildResult> BuildAsync(bool verbose, CancellationToken cancellationToken)
    {
        _options.Validate();
        var clock = Stopwatch.StartNew();
        var key = await ComputeKeyAsync(cancellationToken).ConfigureAwait(false);
        var published = Path.Combine(_options.KernelCacheDirectory, key);
        var vmlinux = Path.Combine(published, "vmlinux");
        if (File.Exists(vmlinux))
        {
            TinyxLog.KernelReused(_logger, published);
            return new KernelBuildResult(vmlinux, Path.Combine(published, "config"), key, new FileInfo(vmlinux).Length, true, clock.Elapsed);
        }

        Directory.CreateDirectory(_options.KernelCacheDirectory);
        RemoveAbandonedBuilds(_options.KernelCacheDirectory, _logger);
        var work = Path.Combine(_options.KernelCacheDirectory, $".build-{key}-{Guid.NewGuid():N}");

        // Held (flock) for the whole build and taken before the directory exists, so a later build can tell this
        // one's directory from one a killed build left (RemoveAbandonedBuilds).
        using var workLock = new FileStream(work + LockSuffix, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var source = Path.Combine(work, "src");
            Directory.CreateDirectory(source);
            await StepAsync("extract " + _options.KernelSource, clock, "tar", ["-xf", _options.KernelSource, "-C", source, "--strip-components=1"], work, verbose, cancellationToken).ConfigureAwait(false);
            await ConfigureAsync(source, clock, verbose, cancellationToken).ConfigureAwait(false);
            await MakeVmlinuxAsync(source, clock, verbose, cancellationToken).ConfigureAwait(false);

            var output = Path.Combine(work, "out");
            Directory.CreateDirectory(output);
            File.Copy(Path.Combine(source, "vmlinux"), Path.Combine(output, "vmlinux"));
            File.Copy(Path.Combine(source, ".config"), Path.Combine(output, "config"));
            try
            {
                Directory.Move(output, published);
            }
            catch (IOException) when (File.Exists(vmlinux))
            {
                // Another build of the same key won the race; its result is identical in every way that matters.
            }

            var size = new FileInfo(vmlinux).Length;
            TinyxLog.KernelBuilt(_logger, vmlinux, size, clock.Elapsed.TotalSeconds);
            return new KernelBuildResult(vmlinux, Path.Combine(published, "config"), key, size, false, clock.Elapsed);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }

            File.Delete(work + LockSuffix);
        }
    }

    /// <summary>
    /// Removes the temp directories (a kernel source tree each, ~1 GiB) of builds that were killed: those whose lock
    /// file is not held any more, or that have none (left before builds took one). A running build's is kept.
    /// </summary>
    internal static int RemoveAbandonedBuilds(string cacheDirectory, ILogger logger)
    {
        var removed = 0;
        foreach (var directory in Directory.EnumerateDirectories(cacheDirectory, ".build-*"))
        {
            var lockPath = directory + LockSuffix;
            FileStream? held = null;
            try
            {
                if (File.Exists(lockPath))
                {
                    try
                    {
                        held = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                    }
                    catch (IOException)
                    {
                        continue; // its build is running
                    }
                }

                Directory.Delete(directory, recursive: true);
                if (held is not null)
                {
                    File.Delete(lockPath);
                }

                TinyxLog.KernelAbandonedBuildRemoved(logger, directory);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TinyxLog.KernelAbandonedBuildNotRemoved(logger, directory, e.Message);
            }
            finally
            {
                held?.Dispose();
            }
        }

        return removed;
    }

    private async Task ConfigureAsync(string source, Stopwatch clock, bool verbose, CancellationToken cancellationToken)
    {
        await StepAsync("make tinyconfig", clock, "make", [.. MakeArguments, "tinyconfig"], source, verbose, cancellationToken).ConfigureAwait(false);
        var fragment = await ReadFragmentAsync(cancellationToken).ConfigureAwait(false);
        var config = Path.Combine(source, ".config");

        // Later assignments win in Kconfig, so appending the fragment overrides tinyconfig's choices.
        await File.AppendAllTextAsync(config, "\n# --- LightVM fragment\n" + fragment, cancellationToken).ConfigureAwait(false);
        await StepAsync("make olddefconfig", clock, "make", [.. MakeArguments, "olddefconfig"], source, verbose, cancellationToken).ConfigureAwait(false);
        var mismatches = KernelConfigCheck.FindMismatches(fragment, await File.ReadAllTextAsync(config, cancellationToken).ConfigureAwait(false));
        if (mismatches.Count > 0)
        {
            throw new TinyxException(
                TinyxErrorKind.FailedPrecondition,
                $"kernel config: {mismatches.Count} option(s) of {_options.KernelConfigFragment} did not make it into .config (unmet dependencies?): {string.Join("; ", mismatches)}");
        }
    }

    private async Task MakeVmlinuxAsync(string source, Stopwatch clock, bool verbose, CancellationToken cancellationToken)
    {
        TinyxLog.KernelStep(_logger, $"make -j{_options.Jobs} vmlinux", clock.Elapsed.TotalSeconds);
        var steps = 0;
        var last = string.Empty;
        var nextReport = clock.Elapsed + ProgressInterval;
        var tail = new Queue<string>();
        var exit = await ProcessRunner.RunAsync("make", [.. MakeArguments, $"-j{_options.Jobs}", "vmlinux"], source, BuildEnvironment, line =>
        {
            Remember(tail, line);
            if (verbose)
            {
                TinyxLog.KernelMakeLine(_logger, line);
            }
            else if (IsDiagnostic(line))
            {
                TinyxLog.KernelMakeDiagnostic(_logger, line);
            }

            // Kbuild prints one "  CC      path" style line per step.
            if (line.StartsWith("  ", StringComparison.Ordinal))
            {
                steps++;
                last = line.Trim();
            }

            if (!verbose && clock.Elapsed >= nextReport)
            {
                TinyxLog.KernelProgress(_logger, steps, clock.Elapsed.TotalSeconds, last);
                nextReport = clock.Elapsed + ProgressInterval;
            }
        }, cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            throw new TinyxException(TinyxErrorKind.Internal, $"make vmlinux failed with exit code {exit}; last output:\n{string.Join('\n', tail)}");
        }
    }

    private async Task StepAsync(string step, Stopwatch clock, string tool, string[] arguments, string directory, bool verbose, CancellationToken cancellationToken)
    {
        TinyxLog.KernelStep(_logger, step, clock.Elapsed.TotalSeconds);
        var tail = new Queue<string>();
        var exit = await ProcessRunner.RunAsync(tool, arguments, directory, BuildEnvironment, line =>
        {
            Remember(tail, line);
            if (verbose)
            {
                TinyxLog.KernelMakeLine(_logger, line);
            }
        }, cancellationToken).ConfigureAwait(false);
        if (exit != 0)
        {
            throw new TinyxException(TinyxErrorKind.Internal, $"{step} failed with exit code {exit}; last output:\n{string.Join('\n', tail)}");
        }
    }

    private async Task<string> ReadFragmentAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(_options.KernelConfigFragment))
        {
            throw new TinyxException(TinyxErrorKind.NotFound, $"kernel config fragment '{_options.KernelConfigFragment}' does not exist");
        }

        return await File.ReadAllTextAsync(_options.KernelConfigFragment, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Compiler diagnostics and make's "***" failures; object names like utxferror.o are not.</summary>
    private static bool IsDiagnostic(string line) =>
        line.Contains("error:", StringComparison.OrdinalIgnoreCase)
        || line.Contains("warning:", StringComparison.OrdinalIgnoreCase)
        || line.Contains("*** ", StringComparison.Ordinal);

    private static void Remember(Queue<string> tail, string line)
    {
        tail.Enqueue(line);
        if (tail.Count > 40)
        {
            tail.Dequeue();
        }
    }

    private static string[] MakeArguments => ["ARCH=x86_64"];

    /// <summary>Fixed build identity so two builds of the same key produce the same banner.</summary>
    private static Dictionary<string, string> BuildEnvironment => new(StringComparer.Ordinal)
    {
        ["KBUILD_BUILD_TIMESTAMP"] = "1970-01-01",
        ["KBUILD_BUILD_USER"] = "lightvm",
        ["KBUILD_BUILD_HOST"] = "lightvm",
        ["LC_ALL"] = "C",
    };
}
