using LightVM.Testing;

namespace LightVM.Cri.Tests;

/// <summary>Bad configuration is refused at start, naming the key and the reason.</summary>
public sealed class ConfigStartupTests
{
    [Fact]
    public async Task Start_UnknownKeyInToml_ExitsWithMessageNamingKey()
    {
        using var dir = new TempDirectory();
        var config = dir.Combine("config.toml");
        await File.WriteAllTextAsync(config, "[cri]\nlisten = \"/tmp/x.sock\"\nlisten_backlog = 5\n");

        var (exitCode, output) = await DaemonProcess.RunToExitAsync(
            ["--config", config, .. DaemonProcess.ArgsFor(dir.Path)], TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains("cri.listen_backlog: unknown key", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "run", "cri.sock")));
    }

    [Fact]
    public async Task Start_InvalidValueOnCommandLine_ExitsWithMessageNamingKeyAndReason()
    {
        using var dir = new TempDirectory();

        var (exitCode, output) = await DaemonProcess.RunToExitAsync(
            [.. DaemonProcess.ArgsFor(dir.Path), "--cri.socket_mode", "0999", "--cri.cgroup_driver", "cgroupv3"],
            TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains("cri.cgroup_driver: \"cgroupv3\" is not one of", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MissingExplicitConfigFile_ExitsWithMessage()
    {
        using var dir = new TempDirectory();

        var (exitCode, output) = await DaemonProcess.RunToExitAsync(
            ["--config", dir.Combine("nope.toml")], TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains("nope.toml does not exist", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_TomlSyntaxError_ExitsWithLineAndColumn()
    {
        using var dir = new TempDirectory();
        var config = dir.Combine("config.toml");
        await File.WriteAllTextAsync(config, "[cri]\nlisten = \n");

        var (exitCode, output) = await DaemonProcess.RunToExitAsync(["--config", config], TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains("(2,", output, StringComparison.Ordinal);
    }
}
