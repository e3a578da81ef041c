namespace LightVM.Toolstack.Pool;

/// <summary>One shape's pool state, for the daemon's verbose Status.</summary>
public sealed record PoolShapeCounters(
    VmShape Shape,
    int Target,
    int Ready,
    int Refilling,
    long Hits,
    long Misses,
    long RefillFailures,
    string? LastRefillError);

/// <summary>The mutable state of one shape, guarded by its own lock.</summary>
internal sealed class ShapeSlot(VmShape shape, int target)
{
    public VmShape Shape { get; } = shape;

    /// <summary>Zero for shapes that are only counted (misses), never kept warm.</summary>
    public int Target { get; } = target;

    public object Gate { get; } = new();

    /// <summary>Oldest first: the VM that waited longest is handed out first.</summary>
    public Queue<IVm> Ready { get; } = new();

    public int Refilling { get; set; }

    public long Hits { get; set; }

    public long Misses { get; set; }

    public long RefillFailures { get; set; }

    public int ConsecutiveFailures { get; set; }

    public DateTime NextAttemptUtc { get; set; }

    public string? LastRefillError { get; set; }

    public PoolShapeCounters Snapshot()
    {
        lock (Gate)
        {
            return new PoolShapeCounters(Shape, Target, Ready.Count, Refilling, Hits, Misses, RefillFailures, LastRefillError);
        }
    }
}
