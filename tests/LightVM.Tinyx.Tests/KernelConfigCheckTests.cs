using LightVM.Tinyx.Kernel;

namespace LightVM.Tinyx.Tests;

public class KernelConfigCheckTests
{
    private const string Fragment = """
        # why: 64-bit
        CONFIG_64BIT=y
        CONFIG_NR_CPUS=64
        CONFIG_CMDLINE="quiet"
        # CONFIG_PACKET is not set
        # CONFIG_VT is not set
        """;

    [Fact]
    public void FindMismatches_EverythingApplied_ReturnsEmpty()
    {
        const string config = "CONFIG_64BIT=y\nCONFIG_NR_CPUS=64\nCONFIG_CMDLINE=\"quiet\"\n# CONFIG_PACKET is not set\n";

        Assert.Empty(KernelConfigCheck.FindMismatches(Fragment, config));
    }

    [Fact]
    public void FindMismatches_DroppedAndForcedOptions_NamesEach()
    {
        const string config = "# CONFIG_64BIT is not set\nCONFIG_NR_CPUS=8\nCONFIG_CMDLINE=\"quiet\"\nCONFIG_VT=y\n";

        var mismatches = KernelConfigCheck.FindMismatches(Fragment, config);

        Assert.Equal(3, mismatches.Count);
        Assert.Contains("CONFIG_64BIT: wanted y, got is not set", mismatches);
        Assert.Contains("CONFIG_NR_CPUS: wanted 64, got 8", mismatches);
        Assert.Contains("CONFIG_VT: wanted is not set, got y", mismatches);
    }

    [Fact]
    public void ShippedFragment_ParsesAndRequestsDirectBoot()
    {
        var text = File.ReadAllText(new TinyxOptions().KernelConfigFragment);

        var options = KernelConfigCheck.ParseFragment(text);

        Assert.Equal("y", options["CONFIG_PVH"]);
        Assert.Equal("y", options["CONFIG_XEN_PVH"]);
        Assert.Equal("y", options["CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES"]);
        Assert.Null(options["CONFIG_PACKET"]);
    }
}
