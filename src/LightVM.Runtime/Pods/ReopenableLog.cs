namespace LightVM.Runtime.Pods;

/// <summary>
/// A container's CRI log file that can be closed and opened again at the same path (ReopenContainerLog, after
/// kubelet renamed the file for rotation): the pump keeps writing here while the file underneath changes.
/// An empty path discards everything (kubelet gave no log path).
/// </summary>
internal sealed class ReopenableLog(string path) : Stream
{
    private readonly Lock _lock = new();
    private Stream? _file = Open(path);
    private bool _disposed;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Flushes and closes the current file, then opens (creates) the file at the path again.</summary>
    /// <exception cref="ObjectDisposedException">The pump has ended.</exception>
    public void Reopen()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _file?.Flush();
            _file?.Dispose();
            _file = null;
            _file = Open(path);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _file?.Write(buffer);
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override void Flush()
    {
        lock (_lock)
        {
            _file?.Flush();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Flush();
        return Task.CompletedTask;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_lock)
            {
                _disposed = true;
                _file?.Dispose();
                _file = null;
            }
        }

        base.Dispose(disposing);
    }

    private static FileStream? Open(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }
}
