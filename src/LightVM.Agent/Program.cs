using LightVM.Agent;
using LightVM.Agent.Channels;
using LightVM.Agent.Containers;
using LightVM.Agent.Guest;
using LightVM.Agent.Processes;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Server;
using LightVM.Agent.Service;

AgentOptions options;
try
{
    options = AgentOptions.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"lightvm-agent: {e.Message}\n{AgentOptions.Usage}");
    return 2;
}

var logger = new StderrLogger(options.LogLevel);
var instanceId = Guid.NewGuid().ToString("N");
AgentLog.Starting(logger, AgentVersion.Value, Environment.ProcessId, instanceId, options.Channel, options.Guest);
if (options.Guest)
{
    GuestSetup.MountBasics(options.CgroupRoot, logger);
}

using var stop = new CancellationTokenSource();
var reaper = new ChildReaper(logger);
reaper.Start();
var service = new AgentService(
    options,
    new ContainerStore(),
    new ProcessLauncher(options.ExecHelper, reaper),
    new Cgroups(options.CgroupRoot),
    new PowerControl(options.Guest, stop, logger),
    instanceId,
    logger);
var serverOptions = new AgentServerOptions
{
    AgentVersion = AgentVersion.Value,
    InstanceId = instanceId,
    MaxFrameBytes = AgentProtocol.DefaultMaxFrameBytes,
};

await using var channel = IHostChannel.Open(options.Channel, logger, serverOptions.MaxFrameBytes);
var host = new AgentHost(channel, new AgentServerSession(service, serverOptions, logger), logger);
await host.RunAsync(stop.Token);
return 0;
