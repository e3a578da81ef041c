using System.Buffers;

namespace LightVM.Toolstack;

/// <summary>Readiness probes that need no agent protocol.</summary>
public static class AgentProbes
{
    /// <summary>Ready once the guest has written one full line on the agent channel.</summary>
    public static AgentProbe FirstLine { get; } = ReadLineAsync;

    private static async Task ReadLineAsync(Stream agent, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(256);
        try
        {
            while (true)
            {
                var read = await agent.ReadAsync(buffer.AsMemory(0, 256), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new EndOfStreamException("the agent channel closed before the guest wrote a line");
                }

                if (buffer.AsSpan(0, read).Contains((byte)'\n'))
                {
                    return;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
