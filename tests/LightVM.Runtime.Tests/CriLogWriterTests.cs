using System.Text;
using Google.Protobuf;
using LightVM.Protos.Agent.V1;
using LightVM.Runtime.Pods;

namespace LightVM.Runtime.Tests;

public sealed class CriLogWriterTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, 123, TimeSpan.Zero);

    [Fact]
    public void Append_LinesAcrossRecords_OneFullRecordPerLineWithStream()
    {
        var (output, writer) = New();

        writer.Append(Record(OutputStream.Stdout, "hel"));
        writer.Append(Record(OutputStream.Stderr, "oops\n"));
        writer.Append(Record(OutputStream.Stdout, "lo\nworld\n"));

        Assert.Equal(
            "2026-01-02T03:04:05.1230000Z stderr F oops\n" +
            "2026-01-02T03:04:05.1230000Z stdout F hello\n" +
            "2026-01-02T03:04:05.1230000Z stdout F world\n",
            Encoding.UTF8.GetString(output.ToArray()));
    }

    [Fact]
    public void Append_LineLongerThanLimit_PartialRecordsThenFull()
    {
        var (output, writer) = New();
        var line = new string('x', CriLogWriter.MaxLineBytes + 10);

        writer.Append(Record(OutputStream.Stdout, line + "\n"));

        var records = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, records.Length);
        Assert.EndsWith(" stdout P " + new string('x', CriLogWriter.MaxLineBytes), records[0], StringComparison.Ordinal);
        Assert.EndsWith(" stdout F xxxxxxxxxx", records[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Finish_UnterminatedLine_WrittenAsFullRecord()
    {
        var (output, writer) = New();
        writer.Append(Record(OutputStream.Stdout, "no newline"));
        Assert.Empty(output.ToArray());

        writer.Finish();

        Assert.EndsWith(" stdout F no newline\n", Encoding.UTF8.GetString(output.ToArray()), StringComparison.Ordinal);
    }

    private static (MemoryStream Output, CriLogWriter.LineSplitter Writer) New()
    {
        var output = new MemoryStream();
        return (output, new CriLogWriter.LineSplitter(output));
    }

    private static OutputRecord Record(OutputStream stream, string text) => new()
    {
        Stream = stream,
        TimestampUnixNano = (At - DateTimeOffset.UnixEpoch).Ticks * 100,
        Data = ByteString.CopyFromUtf8(text),
    };
}
