namespace LightVM.Toolstack;

/// <summary>Assembly marker; real types arrive with their issues.</summary>
internal static class AssemblyMarker
{
}
