using LightVM.Toolstack.Pool;
using LightVM.Toolstack.Qemu;
using Microsoft.Extensions.Logging;

namespace LightVM.Toolstack;

/// <summary>Builds the configured VM source: the plain backend, wrapped in the warm pool.</summary>
public static class VmBackends
{
    /// <summary>The plain backend named by <see cref="ToolstackOptions.Backend"/>.</summary>
    /// <param name="runRoot">The daemon's <c>state.run_root</c>; run directories go under <c>vms/</c> in it.</param>
    /// <param name="warmUp">Run in VMs prepared in the background, after <paramref name="probe"/> (see QemuBackend).</param>
    public static IVmBackend CreatePlain(
        ToolstackOptions options, string runRoot, AgentProbe probe, ILoggerFactory loggerFactory, AgentProbe? warmUp = null) =>
        options.Backend switch
        {
            "qemu" => new QemuBackend(options, runRoot, probe, loggerFactory, warmUp),
            _ => throw new ToolstackException(ToolstackErrorKind.InvalidArgument, $"toolstack.backend: \"{options.Backend}\" is not a known backend"),
        };

    /// <summary>
    /// The pool over the plain backend. The caller runs it as a hosted service (StartAsync starts refilling,
    /// StopAsync drains); with <c>pool.size = 0</c> it passes every call through.
    /// </summary>
    public static WarmPool CreatePooled(
        ToolstackOptions options, PoolOptions poolOptions, string runRoot, AgentProbe probe, ILoggerFactory loggerFactory, AgentProbe? warmUp = null) =>
        new(CreatePlain(options, runRoot, probe, loggerFactory, warmUp), poolOptions, options.DefaultShape, loggerFactory);
}
