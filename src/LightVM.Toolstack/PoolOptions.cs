namespace LightVM.Toolstack;

/// <summary>The warm pool of prepared VMs. TOML section <c>[pool]</c>.</summary>
public sealed class PoolOptions
{
    /// <summary>Prepared VMs kept per shape; 0 turns the pool off.</summary>
    public int Size { get; set; } = 2;

    /// <summary>
    /// Shapes to keep warm, each <c>"VCPUSxMIB"</c> (e.g. <c>"1x128"</c>). Empty means the toolstack's default shape.
    /// </summary>
    public List<string> Shapes { get; set; } = [];

    /// <summary>How many VMs the pool boots at once; boots are CPU-heavy under TCG.</summary>
    public int RefillConcurrency { get; set; } = 1;

    /// <summary>
    /// A refill boot starts only once no pod or container start has run for this long (0 = boot at once), so boots
    /// stay off the critical path of the starts a claim is followed by.
    /// </summary>
    public int RefillQuietMs { get; set; } = 1000;

    /// <summary>The longest a refill waits for that quiet moment; then it boots anyway.</summary>
    public int RefillMaxDeferMs { get; set; } = 10000;

    /// <summary>The shapes to keep warm, parsed; the default shape when none are listed.</summary>
    public IReadOnlyList<VmShape> ResolveShapes(VmShape defaultShape)
    {
        if (Shapes.Count == 0)
        {
            return [defaultShape];
        }

        var result = new List<VmShape>();
        foreach (var text in Shapes)
        {
            if (VmShape.TryParse(text, out var shape) && !result.Contains(shape))
            {
                result.Add(shape);
            }
        }

        return result;
    }

    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        if (Size is < 0 or > 64)
        {
            yield return $"{prefix}.size: must be 0..64, got {Size}";
        }

        if (RefillConcurrency is < 1 or > 16)
        {
            yield return $"{prefix}.refill_concurrency: must be 1..16, got {RefillConcurrency}";
        }

        if (RefillQuietMs is < 0 or > 60_000)
        {
            yield return $"{prefix}.refill_quiet_ms: must be 0..60000, got {RefillQuietMs}";
        }

        if (RefillMaxDeferMs is < 0 or > 600_000)
        {
            yield return $"{prefix}.refill_max_defer_ms: must be 0..600000, got {RefillMaxDeferMs}";
        }

        for (var i = 0; i < Shapes.Count; i++)
        {
            string? problem = null;
            if (!VmShape.TryParse(Shapes[i], out var shape))
            {
                problem = "expected \"VCPUSxMIB\" such as \"1x128\"";
            }
            else
            {
                try
                {
                    shape.EnsureValid();
                }
                catch (ToolstackException e)
                {
                    problem = e.Message;
                }
            }

            if (problem is not null)
            {
                yield return $"{prefix}.shapes[{i}]: \"{Shapes[i]}\": {problem}";
            }
        }
    }
}
