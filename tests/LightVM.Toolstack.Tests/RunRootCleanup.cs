using System.Diagnostics;
using LightVM.Toolstack.Internal;

namespace LightVM.Toolstack.Tests;

/// <summary>
/// After a failed test: kill any VMM still running from <c>root</c> and detach mounts below it, so that removing the
/// temp directory never recurses into a bound host directory nor leaves QEMU behind.
/// </summary>
internal static class RunRootCleanup
{
    public static void Run(string root)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(root, StringComparison.Ordinal))
                {
                    Process.GetProcessById(pid).Kill();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
            {
                // Gone meanwhile.
            }
        }

        HostMounts.UnmountTree(root);
    }
}
