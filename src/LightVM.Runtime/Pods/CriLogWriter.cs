using System.Globalization;
using System.Text;
using LightVM.Agent.Protocol;
using LightVM.Agent.Protocol.Client;
using LightVM.Protos.Agent.V1;
using Microsoft.Extensions.Logging;

namespace LightVM.Runtime.Pods;

/// <summary>
/// Writes a container's output in the CRI log format kubelet reads: <c>&lt;RFC3339Nano&gt; &lt;stdout|stderr&gt; &lt;P|F&gt; &lt;text&gt;</c>,
/// one record per line (F), lines longer than <see cref="MaxLineBytes"/> split into partial (P) records.
/// </summary>
internal static class CriLogWriter
{
    public const int MaxLineBytes = 16 * 1024;

    /// <param name="file">The CRI log file (disposed when the pump ends).</param>
    /// <param name="offsetPath">
    /// Where the output offset up to which the log file is complete is kept, so a restarted daemon resumes there:
    /// nothing written twice, nothing lost (kept only at line ends; an unfinished line is read again).
    /// </param>
    public static async Task PumpAsync(AgentClient agent, string containerId, ReopenableLog file, string offsetPath, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await using var owned = file;
            var writer = new LineSplitter(file);
            var offset = ReadOffset(offsetPath);
            while (true)
            {
                try
                {
                    await foreach (var record in agent.ReadOutputAsync(containerId, offset, cancellationToken).ConfigureAwait(false))
                    {
                        writer.Append(record);
                        offset = record.Offset + (ulong)record.Data.Length;
                        await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                        if (!writer.HasPending)
                        {
                            WriteOffset(offsetPath, offset);
                        }
                    }

                    break;
                }
                catch (AgentException e) when (e.Kind == AgentErrorKind.Unavailable && !cancellationToken.IsCancellationRequested)
                {
                    // The channel broke: read again from the last offset written (nothing lost or repeated).
                    await Task.Delay(200, cancellationToken).ConfigureAwait(false);
                }
            }

            writer.Finish();
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or AgentException or IOException or ObjectDisposedException)
        {
            if (!cancellationToken.IsCancellationRequested)
            {
                RuntimeLog.LogPumpFailed(logger, containerId, e.Message);
            }
        }
    }

    private static ulong ReadOffset(string offsetPath) =>
        File.Exists(offsetPath) && ulong.TryParse(File.ReadAllText(offsetPath), NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset : 0;

    /// <summary>Replaced by rename, so a daemon killed mid-write leaves the old value, never a torn one.</summary>
    private static void WriteOffset(string offsetPath, ulong offset)
    {
        var temporary = offsetPath + ".tmp";
        File.WriteAllText(temporary, offset.ToString(CultureInfo.InvariantCulture));
        File.Move(temporary, offsetPath, overwrite: true);
    }

    /// <summary>Keeps each stream's unfinished line until its newline arrives.</summary>
    internal sealed class LineSplitter(Stream output)
    {
        private readonly MemoryStream _stdout = new();
        private readonly MemoryStream _stderr = new();
        private DateTimeOffset _last = DateTimeOffset.UtcNow;

        /// <summary>Whether an unfinished line is held back (the output offset is then ahead of the file).</summary>
        public bool HasPending => _stdout.Length > 0 || _stderr.Length > 0;

        public void Append(OutputRecord record)
        {
            var stdout = record.Stream != OutputStream.Stderr;
            var pending = stdout ? _stdout : _stderr;
            _last = record.TimestampUnixNano > 0 ? DateTimeOffset.UnixEpoch.AddTicks(record.TimestampUnixNano / 100) : DateTimeOffset.UtcNow;
            var data = record.Data.Span;
            while (data.Length > 0)
            {
                var newline = data.IndexOf((byte)'\n');
                var take = newline >= 0 ? data[..newline] : data;
                pending.Write(take);
                while (pending.Length > MaxLineBytes)
                {
                    var bytes = pending.ToArray();
                    Write(stdout, 'P', bytes.AsSpan(0, MaxLineBytes));
                    pending.SetLength(0);
                    pending.Write(bytes.AsSpan(MaxLineBytes));
                }

                if (newline >= 0)
                {
                    Emit(pending, stdout);
                    data = data[(newline + 1)..];
                }
                else
                {
                    data = default;
                }
            }
        }

        /// <summary>At the end of output an unterminated line is still a whole line.</summary>
        public void Finish()
        {
            if (_stdout.Length > 0)
            {
                Emit(_stdout, true);
            }

            if (_stderr.Length > 0)
            {
                Emit(_stderr, false);
            }
        }

        private void Emit(MemoryStream pending, bool stdout)
        {
            Write(stdout, 'F', pending.GetBuffer().AsSpan(0, (int)pending.Length));
            pending.SetLength(0);
        }

        private void Write(bool stdout, char tag, ReadOnlySpan<byte> text)
        {
            var prefix = string.Create(CultureInfo.InvariantCulture,
                $"{_last.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)} {(stdout ? "stdout" : "stderr")} {tag} ");
            output.Write(Encoding.ASCII.GetBytes(prefix));
            output.Write(text);
            output.WriteByte((byte)'\n');
        }
    }
}
