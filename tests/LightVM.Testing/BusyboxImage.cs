using System.Diagnostics;

namespace LightVM.Testing;

/// <summary>
/// A runnable rootfs from the host's static busybox (package busybox-static): <c>/bin/busybox</c>, a symlink per
/// applet, and the few files a shell needs.
/// </summary>
public static class BusyboxImage
{
    public const string BusyboxPath = "/bin/busybox";

    /// <summary>The rootfs as one layer's entries; add to it for variants.</summary>
    public static LayerBuilder Rootfs()
    {
        var layer = new LayerBuilder();
        foreach (var dir in new[] { "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "proc", "sys", "dev", "run", "var", "var/log" })
        {
            layer.Directory(dir);
        }

        layer.Directory("tmp", mode: 0b1_111_111_111);
        layer.File("bin/busybox", File.ReadAllBytes(BusyboxPath), mode: 0b111_101_101);
        foreach (var applet in Applets())
        {
            if (applet != "bin/busybox")
            {
                layer.Symlink(applet, "/bin/busybox");
            }
        }

        layer.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
        layer.File("etc/group", "root:x:0:\nnogroup:x:65534:\n");
        layer.File("etc/hostname", "busybox\n");
        return layer;
    }

    /// <summary>The busybox image: one layer, <c>/bin/sh</c> as command.</summary>
    public static BuiltImage Build(LayerCompression compression = LayerCompression.Gzip) =>
        new OciImageBuilder(Rootfs().Build(compression)) { Cmd = ["/bin/sh"] }.Build();

    /// <summary>Applet paths (relative, e.g. <c>bin/sh</c>) the host busybox provides.</summary>
    public static IReadOnlyList<string> Applets()
    {
        using var process = Process.Start(new ProcessStartInfo(BusyboxPath, ["--list-full"]) { RedirectStandardOutput = true })!;
        var list = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        process.WaitForExit();
        return list.Select(a => a.TrimStart('/')).Distinct(StringComparer.Ordinal).ToList();
    }
}
