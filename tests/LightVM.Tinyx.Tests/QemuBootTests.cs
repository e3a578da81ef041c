using LightVM.Tinyx.Initramfs;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace LightVM.Tinyx.Tests;

/// <summary>Boots the real guest kernel under QEMU TCG with tiny static inits.</summary>
[Trait("Category", "Qemu")]
public class QemuBootTests : IClassFixture<GuestKernelFixture>
{
    private const string Marker = "LIGHTVM-BOOT-MARKER";

    /// <summary>Prints the marker on /dev/console (ttyS0) and reboots, which ends QEMU (-no-reboot).</summary>
    private const string MarkerInit = """
        #include <string.h>
        #include <sys/reboot.h>
        #include <unistd.h>
        int main(void) {
            static const char marker[] = "LIGHTVM-BOOT-MARKER\n";
            write(1, marker, sizeof marker - 1);
            sync();
            reboot(RB_AUTOBOOT);
            for (;;) pause();
        }
        """;

    /// <summary>Reports what the agent will rely on: named virtio ports, filesystems, cgroup v2 controllers.</summary>
    private const string ProbeInit = """
        #include <dirent.h>
        #include <fcntl.h>
        #include <stdio.h>
        #include <string.h>
        #include <sys/mount.h>
        #include <sys/reboot.h>
        #include <unistd.h>
        static void show(const char *label, const char *path) {
            char buf[4096]; int fd = open(path, O_RDONLY); ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
            if (n < 0) n = 0; buf[n] = 0;
            for (char *p = buf; *p; p++) if (*p == '\n' || *p == '\t') *p = ' ';
            printf("%s:%s\n", label, buf); if (fd >= 0) close(fd);
        }
        int main(void) {
            mount("proc", "/proc", "proc", 0, 0);
            mount("sysfs", "/sys", "sysfs", 0, 0);
            mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, 0);
            printf("MOUNT-DEVTMPFS:%d\n", mount("devtmpfs", "/mnt", "devtmpfs", 0, 0));
            DIR *d = opendir("/sys/class/virtio-ports");
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char path[512]; snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
                show("PORT", path);
            }
            show("FS", "/proc/filesystems");
            show("CG", "/sys/fs/cgroup/cgroup.controllers");
            printf("PROBE-DONE\n");
            fflush(stdout);
            sync();
            reboot(RB_AUTOBOOT);
            for (;;) pause();
        }
        """;

    private readonly GuestKernelFixture _kernel;
    private readonly ITestOutputHelper _output;

    public QemuBootTests(GuestKernelFixture kernel, ITestOutputHelper output)
    {
        _kernel = kernel;
        _output = output;
    }

    [Fact]
    public async Task Boot_StaticMarkerInit_PrintsMarkerAndQemuExitsByItself()
    {
        using var dir = new TempDirectory();
        var initramfs = await BuildInitramfs(dir, MarkerInit);

        var boot = await MicrovmRunner.BootAsync(_kernel.Kernel.VmlinuxPath, initramfs, Marker);

        _output.WriteLine($"vmlinux {_kernel.Kernel.Size} bytes; marker after {boot.MarkerAfter?.TotalMilliseconds:F0} ms; QEMU exited after {boot.Elapsed.TotalMilliseconds:F0} ms");
        Assert.False(boot.TimedOut, "QEMU did not exit by itself:\n" + boot.Console);
        Assert.True(boot.MarkerAfter is not null, "marker missing from the console:\n" + boot.Console);
        Assert.Equal(0, boot.ExitCode);
    }

    [Fact]
    public async Task Boot_ProbeInit_SeesNamedPortFilesystemsAndControllers()
    {
        using var dir = new TempDirectory();
        var initramfs = await BuildInitramfs(dir, ProbeInit, "/proc", "/sys", "/mnt");
        string[] agentPort = ["-chardev", "null,id=agent", "-device", "virtserialport,chardev=agent,name=org.lightvm.agent"];

        var boot = await MicrovmRunner.BootAsync(_kernel.Kernel.VmlinuxPath, initramfs, "PROBE-DONE", agentPort, cpus: 2);

        _output.WriteLine(boot.Console);
        Assert.True(boot.MarkerAfter is not null, "probe did not finish:\n" + boot.Console);
        Assert.Contains("PORT:org.lightvm.agent", boot.Console, StringComparison.Ordinal);
        Assert.Contains("MOUNT-DEVTMPFS:0", boot.Console, StringComparison.Ordinal);
        var filesystems = boot.Console.Split('\n').Single(l => l.StartsWith("FS:", StringComparison.Ordinal));
        foreach (var fs in new[] { "overlay", "9p", "ext4", "erofs", "tmpfs", "devtmpfs", "cgroup2", "proc", "sysfs" })
        {
            Assert.Contains(" " + fs + " ", filesystems + " ", StringComparison.Ordinal);
        }

        var controllers = boot.Console.Split('\n').Single(l => l.StartsWith("CG:", StringComparison.Ordinal));
        foreach (var controller in new[] { "cpu", "memory", "pids" })
        {
            Assert.Contains(" " + controller + " ", " " + controllers[3..] + " ", StringComparison.Ordinal);
        }
    }

    private static async Task<string> BuildInitramfs(TempDirectory dir, string initSource, params string[] directories)
    {
        var init = Tools.CompileC(dir, "init", initSource, "-static");
        var spec = new InitramfsSpec { Init = init };
        spec.Directories.AddRange(directories.Select(DirectorySpec.Parse));
        var options = new TinyxOptions { CacheDirectory = dir.Combine("cache") };
        var result = await new InitramfsBuilder(options, NullLogger<InitramfsBuilder>.Instance).BuildAsync(spec, CancellationToken.None);
        return result.Path;
    }
}
