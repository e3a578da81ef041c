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
