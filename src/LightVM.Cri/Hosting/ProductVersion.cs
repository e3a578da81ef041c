using System.Reflection;

namespace LightVM.Cri;

/// <summary>The daemon's version: the assembly's informational version (semantic version plus source revision).</summary>
internal static class ProductVersion
{
    public static string Value { get; } =
        typeof(ProductVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ProductVersion).Assembly.GetName().Version?.ToString()
        ?? "unknown";
}
