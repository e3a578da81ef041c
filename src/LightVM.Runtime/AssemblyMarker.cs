namespace LightVM.Runtime;

/// <summary>Assembly marker; real types arrive with their issues.</summary>
internal static class AssemblyMarker
{
}
