namespace LightVM.Agent;

internal static class UnixTime
{
    /// <summary>Wall-clock time in nanoseconds since the Unix epoch (100 ns resolution).</summary>
    public static long NowNanos() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}
