namespace LightVM.Agent.Protocol;

/// <summary>Assembly marker; real types arrive with their issues.</summary>
internal static class AssemblyMarker
{
}
