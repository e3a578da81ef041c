using System.Diagnostics;
using LightVM.Tinyx.Kernel;
using Microsoft.Extensions.Logging.Abstractions;

namespace LightVM.Tinyx.Tests;

public class KernelBuilderCacheTests
{
    [Fact]
    public void RemoveAbandonedBuilds_KilledAndRunningBuilds_RemovesOnlyTheKilledOnes()
    {
        using var cache = new TempDirectory();
        var published = MakeTree(cache.Combine("0123abcd"));
        var legacy = MakeTree(cache.Combine(".build-aaaa-1"));
        var killed = MakeTree(cache.Combine(".build-bbbb-2"));
        File.WriteAllText(killed + ".lock", string.Empty);
        var running = MakeTree(cache.Combine(".build-cccc-3"));

        // The running build's lock is held by another process, with flock(1) as a real builder would hold it; -o: only
        // flock itself holds it (not its sleep), so the lock is free once flock has exited.
        using var holder = Process.Start(new ProcessStartInfo("flock", ["-o", running + ".lock", "sleep", "60"]) { UseShellExecute = false })!;
        try
        {
            WaitUntilLocked(running + ".lock");

            var removed = KernelBuilder.RemoveAbandonedBuilds(cache.Path, NullLogger.Instance);

            Assert.Equal(2, removed);
            Assert.False(Directory.Exists(legacy));
            Assert.False(Directory.Exists(killed));
            Assert.False(File.Exists(killed + ".lock"));
            Assert.True(File.Exists(Path.Combine(running, "src", "Makefile")));
            Assert.True(File.Exists(running + ".lock"));
            Assert.True(File.Exists(Path.Combine(published, "src", "Makefile")));
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }

        // Once its builder is gone, the running build's directory is abandoned too.
        Assert.Equal(1, KernelBuilder.RemoveAbandonedBuilds(cache.Path, NullLogger.Instance));
        Assert.False(Directory.Exists(running));
    }

    private static string MakeTree(string directory)
    {
        Directory.CreateDirectory(Path.Combine(directory, "src"));
        File.WriteAllText(Path.Combine(directory, "src", "Makefile"), "all:\n");
        return directory;
    }

    private static void WaitUntilLocked(string lockPath)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var probe = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                return;
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"flock did not take {lockPath} within 5 s");
    }
}
