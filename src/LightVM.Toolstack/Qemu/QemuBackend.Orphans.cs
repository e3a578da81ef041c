using System.Globalization;

namespace LightVM.Toolstack.Qemu;

public sealed partial class QemuBackend
{
    public async Task<int> StopOrphansAsync(IReadOnlyCollection<string> keepRunDirectories, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(_vmsRoot))
        {
            return 0;
        }

        var keep = new HashSet<string>(keepRunDirectories.Select(Path.GetFullPath), StringComparer.Ordinal);
        var stopped = 0;
        foreach (var runDirectory in Directory.GetDirectories(_vmsRoot))
        {
            var full = Path.GetFullPath(runDirectory);
            if (keep.Contains(full) || _mine.ContainsKey(runDirectory) || _mine.ContainsKey(full))
            {
                continue;
            }

            // No record names it: rebuild enough of one to reattach (or find it dead) and stop it the ordinary way,
            // which also detaches its share and removes the directory.
            var paths = new QemuPaths(full);
            var pid = File.Exists(paths.PidFile) && int.TryParse(File.ReadAllText(paths.PidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 0;
            var record = new VmRecord(Path.GetFileName(full), "qemu", new VmShape(1, 128), full, pid, "unknown", Directory.GetCreationTime(full), TimeSpan.Zero);
            try
            {
                var vm = await RecoverAsync(record, cancellationToken).ConfigureAwait(false);
                await vm.StopAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                await vm.DisposeAsync().ConfigureAwait(false);
                _mine.TryRemove(full, out _);
                ToolstackLog.OrphanStopped(_logger, record.Id, pid);
                stopped++;
            }
            catch (Exception e) when (e is ToolstackException or IOException or UnauthorizedAccessException)
            {
                ToolstackLog.OrphanStopFailed(_logger, record.Id, e.Message);
            }
        }

        return stopped;
    }
}
