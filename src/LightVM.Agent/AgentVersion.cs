using System.Reflection;

namespace LightVM.Agent;

internal static class AgentVersion
{
    public static readonly string Value =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "unknown";
}
