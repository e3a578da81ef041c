using LightVM.Cri;
using LightVM.Cri.Configuration;
using LightVM.Cri.Hosting;

// Exit codes: 0 clean stop, 1 could not start (state in use, socket busy), 2 bad command line or configuration.
CommandLine commandLine;
LightVMConfig config;
try
{
    commandLine = CommandLine.Parse(args);
    if (commandLine.Help)
    {
        Console.WriteLine(CommandLine.Usage);
        return 0;
    }

    if (commandLine.Version)
    {
        Console.WriteLine($"lightvm-cri {ProductVersion.Value}");
        return 0;
    }

    config = ConfigLoader.Load(commandLine.ConfigPath, commandLine.Settings);
}
catch (Exception e) when (e is ArgumentException or ConfigException)
{
    await Console.Error.WriteLineAsync($"lightvm-cri: {e.Message}").ConfigureAwait(false);
    return 2;
}

if (commandLine.PrintConfig)
{
    Console.WriteLine(EffectiveConfig.ToJson(config));
    return 0;
}

try
{
    return await Daemon.RunAsync(config).ConfigureAwait(false);
}
catch (DaemonStartException e)
{
    await Console.Error.WriteLineAsync($"lightvm-cri: {e.Message}").ConfigureAwait(false);
    return 1;
}
