using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using LightVM.Agent.Native;
using Microsoft.Extensions.Logging;

namespace LightVM.Agent.Channels;

/// <summary>
/// A virtio-serial port found by name (/sys/class/virtio-ports/*/name -> /dev/vportNpM). The port outlives host
/// connections: while no host is connected read() returns 0 at once and write() blocks.
/// <para>
/// A read() of 0 is not a reliable connection boundary, so the port is served as one continuous byte stream, as a
/// console ring would be, and a host connection is told apart by its Hello (the protocol session starts a new
/// epoch on each). The driver learns of host connections on its control queue, handled later than data: after a
/// quick close and reconnect the guest can read the new host's Hello, answer it, and only then see the old close
/// as a read() of 0. Ending the stream there dropped that answer and left the new host waiting for ever. A write
/// still blocked from an old connection completes when the next host connects; the frames of the new connection
/// queue behind it, never inside it, and the host skips the stale bytes while it hunts for its handshake answer.
/// The bytes of a frame a dead host left half sent are dropped by the session's stall timeout.
/// </para>
/// <para>
/// While no host is connected poll() reports a hangup at once, so it cannot wait for one. The port's SIGIO can: the
/// driver raises it when the host connects or data arrives. It is routed to the read thread alone (F_SETOWN_EX with
/// the thread id), blocked there and taken with sigtimedwait, so no other thread and no handler ever sees it. A
/// claimed pooled VM answers its first handshake at once instead of on the next poll tick.
/// </para>
/// </summary>
internal sealed class VirtioSerialChannel : IHostChannel
{
    private static readonly TimeSpan DisconnectedPoll = TimeSpan.FromMilliseconds(100);

    // With SIGIO the wait is only a backstop for a lost signal.
    private static readonly TimeSpan DisconnectedSignalWait = TimeSpan.FromSeconds(1);
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly int _maxFrameBytes;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Channel<HostConnection> _connections = Channel.CreateUnbounded<HostConnection>();
    private int _fd = -1;
    private Thread? _reader;
    private volatile bool _stopping;

    public VirtioSerialChannel(string name, ILogger logger, int maxFrameBytes)
    {
        _name = name;
        _logger = logger;
        _maxFrameBytes = maxFrameBytes;
    }

    public async IAsyncEnumerable<HostConnection> AcceptAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_reader is null)
        {
            var device = await FindPortAsync(cancellationToken).ConfigureAwait(false);
            _fd = Open(device);
            AgentLog.ChannelOpen(_logger, device);
            _reader = new Thread(ReadLoop) { IsBackground = true, Name = "virtio-read" };
            _reader.Start();
        }

        await foreach (var connection in _connections.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return connection;
        }
    }

    private async Task<string> FindPortAsync(CancellationToken cancellationToken)
    {
        var logged = false;
        while (true)
        {
            foreach (var port in Directory.Exists("/sys/class/virtio-ports") ? Directory.GetDirectories("/sys/class/virtio-ports") : [])
            {
                var nameFile = Path.Combine(port, "name");
                if (File.Exists(nameFile) && File.ReadAllText(nameFile).Trim() == _name)
                {
                    var device = Path.Combine("/dev", Path.GetFileName(port));
                    if (File.Exists(device))
                    {
                        return device;
                    }
                }
            }

            if (!logged)
            {
                AgentLog.WaitingForPort(_logger, _name);
                logged = true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
    }

    // Unsafe: the path is a pinned NUL-terminated array.
    private static unsafe int Open(string device)
    {
        var path = System.Text.Encoding.UTF8.GetBytes(device + "\0");
        fixed (byte* p = path)
        {
            var fd = Libc.open(p, Libc.ORdwr | Libc.OCloexec);
            return fd >= 0 ? fd : throw new IOException($"cannot open {device}: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }
    }

    /// <summary>Blocking reads on a dedicated thread: the port has no non-blocking readiness .NET could wait on.</summary>
    // Unsafe: read() writes within the pinned buffer's bounds.
    private unsafe void ReadLoop()
    {
        var buffer = new byte[16 * 1024];
        var sigio = stackalloc byte[Libc.SigsetSize];
        var signalled = TryRouteSigioHere(sigio);
        Session? current = null;
        var disconnected = false;
        while (!_stopping)
        {
            nint read;
            fixed (byte* p = buffer)
            {
                read = Libc.read(_fd, p, buffer.Length);
            }

            if (read > 0)
            {
                disconnected = false;
                if (current is null || current.Ended)
                {
                    current = new Session(this);
                    _connections.Writer.TryWrite(current.Connection);
                }

                current.Deliver(buffer.AsSpan(0, (int)read));
                continue;
            }

            if (read == 0)
            {
                if (current is not null && !disconnected)
                {
                    // Logged once per disconnect; the stream goes on (see the class comment).
                    AgentLog.HostDisconnected(_logger, _name);
                }

                disconnected = true;

                if (signalled)
                {
                    WaitForSigio(sigio);
                }
                else
                {
                    Thread.Sleep(DisconnectedPoll);
                }

                continue;
            }

            if (Marshal.GetLastPInvokeError() != Libc.EIntr)
            {
                Thread.Sleep(DisconnectedPoll);
            }
        }
    }

    /// <summary>Blocks SIGIO on this thread and has the port send it here; false (and polling) if that fails.</summary>
    // Unsafe: the sigset and f_owner_ex live on the caller's stack for the calls.
    private unsafe bool TryRouteSigioHere(byte* sigio)
    {
        new Span<byte>(sigio, Libc.SigsetSize).Clear();
        sigio[(Libc.SigIo - 1) / 8] |= (byte)(1 << ((Libc.SigIo - 1) % 8));
        var error = Libc.pthread_sigmask(Libc.SigBlock, sigio, null);
        if (error == 0)
        {
            var owner = stackalloc int[2];
            owner[0] = Libc.FOwnerTid;
            owner[1] = Libc.gettid();
            var flags = Libc.fcntl(_fd, Libc.FGetfl, 0);
            if (flags >= 0 && Libc.fcntl_ptr(_fd, Libc.FSetownEx, owner) == 0 && Libc.fcntl(_fd, Libc.FSetfl, flags | Libc.OAsync) == 0)
            {
                return true;
            }

            error = Marshal.GetLastPInvokeError();
        }

        AgentLog.PortSignalUnavailable(_logger, _name, Libc.Describe(error), (int)DisconnectedPoll.TotalMilliseconds);
        return false;
    }

    // Unsafe: the sigset is the caller's; siginfo and timespec are on this stack.
    private static unsafe void WaitForSigio(byte* sigio)
    {
        var info = stackalloc byte[Libc.SiginfoSize];
        var timeout = stackalloc long[2];
        timeout[0] = (long)DisconnectedSignalWait.TotalSeconds;
        timeout[1] = 0;

        // Returns on the signal, the backstop timeout (EAGAIN) or another signal (EINTR): each means "read again".
        _ = Libc.sigtimedwait(sigio, info, timeout);
    }

    // Unsafe: write() reads within the pinned span's bounds.
    private unsafe void WriteAll(ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            var written = 0;
            while (written < data.Length)
            {
                var n = Libc.write(_fd, start + written, data.Length - written);
                if (n < 0 && Marshal.GetLastPInvokeError() == Libc.EIntr)
                {
                    continue;
                }

                if (n <= 0)
                {
                    throw new IOException($"write to virtio port {_name} failed: {Libc.Describe(Marshal.GetLastPInvokeError())}");
                }

                written += (int)n;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _stopping = true;
        _connections.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    /// <summary>The byte stream handed to one protocol session; a new one starts only when a session gave up.</summary>
    private sealed class Session
    {
        private readonly VirtioSerialChannel _channel;

        // Never pauses: Deliver runs on the read thread and must not wait. The host sends little (requests), and a
        // host that floods is stopped by the protocol's max frame size.
        private readonly Pipe _input = new(new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false));
        private readonly Pipe _output;
        private volatile bool _ended;

        public Session(VirtioSerialChannel channel)
        {
            _channel = channel;
            _output = new Pipe(LightVM.Agent.Protocol.Framing.FrameWriter.PipeOptionsFor(channel._maxFrameBytes));
            Connection = new HostConnection(new DuplexPipe(_input.Reader, _output.Writer), () =>
            {
                End();
                return ValueTask.CompletedTask;
            });
            _ = Task.Run(PumpOutAsync);
        }

        public HostConnection Connection { get; }

        public bool Ended => _ended;

        public void Deliver(ReadOnlySpan<byte> data)
        {
            _input.Writer.Write(data);
            var flush = _input.Writer.FlushAsync();
            if (flush.IsCompleted && flush.Result.IsCompleted)
            {
                // The protocol session gave up on this connection; the next bytes start a new one.
                End();
            }
        }

        public void End()
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            _input.Writer.Complete();
            _output.Reader.CancelPendingRead();
        }

        private async Task PumpOutAsync()
        {
            try
            {
                while (true)
                {
                    var result = await _output.Reader.ReadAsync().ConfigureAwait(false);
                    foreach (var segment in result.Buffer)
                    {
                        await _channel._writeLock.WaitAsync().ConfigureAwait(false);
                        try
                        {
                            if (_ended)
                            {
                                return;
                            }

                            _channel.WriteAll(segment.Span);
                        }
                        finally
                        {
                            _channel._writeLock.Release();
                        }
                    }

                    _output.Reader.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted || _ended)
                    {
                        return;
                    }
                }
            }
            catch (IOException)
            {
                End();
            }
            finally
            {
                await _output.Reader.CompleteAsync().ConfigureAwait(false);
            }
        }
    }
}
