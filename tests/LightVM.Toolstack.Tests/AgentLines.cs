using System.Text;

namespace LightVM.Toolstack.Tests;

/// <summary>Line-based talk with the test guest's init over the agent stream.</summary>
internal static class AgentLines
{
    public static async Task<string> AskAsync(Stream agent, string line, CancellationToken cancellationToken)
    {
        await agent.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"), cancellationToken);
        var reply = new StringBuilder();
        var buffer = new byte[1];
        while (true)
        {
            // Byte reads are fine for a test helper; product code frames with pipelines.
            var read = await agent.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new EndOfStreamException("agent stream closed; got so far: " + reply);
            }

            if (buffer[0] == '\n')
            {
                return reply.ToString();
            }

            reply.Append((char)buffer[0]);
        }
    }
}
