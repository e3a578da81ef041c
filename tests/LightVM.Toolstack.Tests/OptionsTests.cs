using LightVM.Toolstack.Qemu;

namespace LightVM.Toolstack.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Validate_Defaults_NoProblems()
    {
        Assert.Empty(new ToolstackOptions().Validate("toolstack"));
        Assert.Empty(new PoolOptions().Validate("pool"));
    }

    [Fact]
    public void Validate_BadValues_OneMessagePerKeyStartingWithIt()
    {
        var toolstack = new ToolstackOptions { Backend = "xen", Kernel = "vmlinux", DefaultVcpus = 0, TcgTbSizeMib = 0, BackgroundBootNice = 20 };
        var pool = new PoolOptions { Size = -1, RefillConcurrency = 0, RefillQuietMs = -1, RefillMaxDeferMs = 600_001, Shapes = ["1x128", "big", "0x128"] };

        var problems = toolstack.Validate("toolstack").Concat(pool.Validate("pool")).ToList();

        Assert.Collection(
            problems,
            p => Assert.StartsWith("toolstack.backend: \"xen\"", p, StringComparison.Ordinal),
            p => Assert.StartsWith("toolstack.kernel: must be an absolute path", p, StringComparison.Ordinal),
            p => Assert.StartsWith("toolstack.default_vcpus:", p, StringComparison.Ordinal),
            p => Assert.StartsWith("toolstack.tcg_tb_size_mib:", p, StringComparison.Ordinal),
            p => Assert.StartsWith("toolstack.background_boot_nice: must be 0..19", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.size:", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.refill_concurrency:", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.refill_quiet_ms: must be 0..60000", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.refill_max_defer_ms: must be 0..600000", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.shapes[1]: \"big\"", p, StringComparison.Ordinal),
            p => Assert.StartsWith("pool.shapes[2]: \"0x128\"", p, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, null, 1, 128)]
    [InlineData(0.5, null, 1, 128)]
    [InlineData(1.5, null, 2, 128)]
    [InlineData(null, 32L * 1024 * 1024, 1, 128)]
    [InlineData(null, 100L * 1024 * 1024, 1, 192)]
    [InlineData(2.0, 512L * 1024 * 1024, 2, 576)]
    public void ShapeFor_PodResources_RoundedWithOverheadAndDefaults(double? cpus, long? memory, int vcpus, int mib)
    {
        var options = new ToolstackOptions { DefaultVcpus = 1, DefaultMemoryMib = 128, MemoryOverheadMib = 64 };

        Assert.Equal(new VmShape(vcpus, mib), options.ShapeFor(cpus, memory));
    }

    [Fact]
    public void ResolveShapes_NoneListed_DefaultShape()
    {
        Assert.Equal([new VmShape(1, 128)], new PoolOptions().ResolveShapes(new VmShape(1, 128)));
        Assert.Equal([new VmShape(2, 256), new VmShape(1, 64)], new PoolOptions { Shapes = ["2x256", "1x64", "2x256"] }.ResolveShapes(new VmShape(1, 128)));
    }

    [Fact]
    public void Build_Tcg_MicrovmWithBoundedTranslationCacheAndNamedDevices()
    {
        var options = new ToolstackOptions { Kernel = "/k", Initrd = "/i", TcgTbSizeMib = 24, KernelArgsExtra = " loglevel=4 " };
        var paths = new QemuPaths("/run/lightvm/vms/abc");

        var args = QemuCommandLine.Build(options, new VmShape(2, 256), "tcg", paths, "abc", tscKhz: 2600000);

        Assert.Equal("microvm,acpi=off,rtc=on", After(args, "-M"));
        Assert.Equal("tcg,tb-size=24", After(args, "-accel"));
        Assert.Equal("max", After(args, "-cpu"));
        Assert.Equal(("2", "256M"), (After(args, "-smp"), After(args, "-m")));
        Assert.Equal(QemuCommandLine.BaseKernelArgs + " tsc_early_khz=2600000 loglevel=4", After(args, "-append"));
        Assert.Equal("chardev:console", After(args, "-serial"));
        Assert.Contains("virtserialport,chardev=agent,name=lightvm.agent", args);
        Assert.Contains("socket,id=agent,path=/run/lightvm/vms/abc/agent.sock,server=on,wait=off", args);
        Assert.Contains("local,id=share,path=/run/lightvm/vms/abc/share,security_model=none,multidevs=remap", args);
        Assert.Contains("virtio-9p-device,fsdev=share,mount_tag=lightvm.share", args);
        Assert.Contains("-daemonize", args);
        Assert.Contains("-no-reboot", args);
    }

    [Fact]
    public void Build_Kvm_HostCpuAndNoTranslationCache()
    {
        var args = QemuCommandLine.Build(new ToolstackOptions(), new VmShape(1, 128), "kvm", new QemuPaths("/r"), "x", tscKhz: 2600000);

        Assert.Equal(("kvm", "host"), (After(args, "-accel"), After(args, "-cpu")));
        Assert.DoesNotContain("tsc_early_khz", After(args, "-append"), StringComparison.Ordinal);
    }

    private static string After(List<string> args, string flag) => args[args.IndexOf(flag) + 1];
}
