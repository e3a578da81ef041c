using LightVM.Cri.Configuration;
using LightVM.Cri.Hosting;
using LightVM.Testing;

namespace LightVM.Cri.Tests;

/// <summary>Unit tests of configuration reading: file, flags, binding and validation.</summary>
public sealed class ConfigLoaderTests
{
    private static LightVMConfig Load(string? toml, params string[] args)
    {
        using var dir = new TempDirectory();
        string? path = null;
        if (toml is not null)
        {
            path = dir.Combine("c.toml");
            File.WriteAllText(path, toml);
        }

        // A default path that does not exist, so a config file on the test machine cannot leak in.
        return ConfigLoader.Load(path, CommandLine.Parse(args).Settings, dir.Combine("absent.toml"));
    }

    [Fact]
    public void Load_ReadmeExample_LoadsAndDocumentsTheRealDefaults()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "README.md"));
        var start = readme.IndexOf("```toml\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no ```toml block");
        start += "```toml\n".Length;
        var toml = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];

        var config = Load(toml);

        // The example shows the defaults of the toolstack and pool knobs (shapes aside), so it must match the code.
        var toolstack = new LightVM.Toolstack.ToolstackOptions();
        var pool = new LightVM.Toolstack.PoolOptions();
        Assert.Equal(
            (toolstack.Accel, toolstack.DefaultVcpus, toolstack.DefaultMemoryMib, toolstack.MemoryOverheadMib, toolstack.TcgTbSizeMib, toolstack.BackgroundBootNice, toolstack.BackgroundWarmUp),
            (config.Toolstack.Accel, config.Toolstack.DefaultVcpus, config.Toolstack.DefaultMemoryMib, config.Toolstack.MemoryOverheadMib, config.Toolstack.TcgTbSizeMib, config.Toolstack.BackgroundBootNice, config.Toolstack.BackgroundWarmUp));
        Assert.Equal(
            (pool.Size, pool.RefillConcurrency, pool.RefillQuietMs, pool.RefillMaxDeferMs),
            (config.Pool.Size, config.Pool.RefillConcurrency, config.Pool.RefillQuietMs, config.Pool.RefillMaxDeferMs));
    }

    [Fact]
    public void Load_NoFileNoFlags_DefaultsApply()
    {
        var config = Load(null);

        Assert.Equal("/run/lightvm/lightvm.sock", config.Cri.Listen);
        Assert.Equal("/var/lib/lightvm", config.State.Root);
    }

    [Fact]
    public void Load_FlagOverridesFile_FlagWins()
    {
        var config = Load("[state]\nroot = \"/srv/a\"\n", "--state.root=/srv/b");

        Assert.Equal("/srv/b", config.State.Root);
    }

    [Fact]
    public void Load_TypedFlagValues_AreParsedAsToml()
    {
        var config = Load(null, "--cri.shutdown_timeout_seconds", "7", "--cri.cgroup_driver", "\"cgroupfs\"");

        Assert.Equal(7, config.Cri.ShutdownTimeoutSeconds);
        Assert.Equal(CgroupDriverChoice.Cgroupfs, config.Cri.CgroupDriver);
    }

    [Fact]
    public void Load_WrongType_ErrorNamesKeyAndTypes()
    {
        var e = Assert.Throws<ConfigException>(() => Load("[cri]\nshutdown_timeout_seconds = \"soon\"\n"));

        Assert.Contains("cri.shutdown_timeout_seconds: expected an integer, got the string \"soon\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_SeveralProblems_AllReportedAtOnce()
    {
        var e = Assert.Throws<ConfigException>(() => Load("[cri]\nbogus = 1\n[nosuch]\nx = 1\n[pool]\nbogus = 2\n"));

        Assert.Contains("cri.bogus: unknown key", e.Message, StringComparison.Ordinal);
        Assert.Contains("nosuch: unknown key", e.Message, StringComparison.Ordinal);
        Assert.Contains("pool.bogus: unknown key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DuplicateKey_RefusedWithLocation()
    {
        var e = Assert.Throws<ConfigException>(() => Load("[cri]\nlisten = \"/a\"\nlisten = \"/b\"\n"));

        Assert.Contains("(3,", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_RelativeSocketPath_Refused()
    {
        var e = Assert.Throws<ConfigException>(() => Load(null, "--cri.listen=relative.sock"));

        Assert.Contains("cri.listen: must be an absolute path", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Listen", "listen")]
    [InlineData("MaxConcurrentDownloads", "max_concurrent_downloads")]
    [InlineData("OtlpEndpoint", "otlp_endpoint")]
    [InlineData("RunRoot", "run_root")]
    public void KeyOf_PropertyName_SnakeCase(string property, string key) =>
        Assert.Equal(key, OptionsBinder.KeyOf(property));

    [Fact]
    public void Parse_PositionalArgument_Refused()
    {
        var e = Assert.Throws<ArgumentException>(() => CommandLine.Parse(["serve"]));

        Assert.Contains("serve", e.Message, StringComparison.Ordinal);
    }
}
