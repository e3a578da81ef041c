using System.Globalization;
using System.Net.Sockets;

namespace LightVM.Cri.Hosting;

/// <summary>
/// The CRI unix socket. We bind it ourselves and hand the listening descriptor to Kestrel, so the socket has its
/// final mode and group before anyone can connect: binding through Kestrel would leave a window in which the socket
/// carries the process umask.
/// </summary>
internal sealed class CriSocket : IDisposable
{
    private readonly Socket _socket;

    private CriSocket(string path, Socket socket)
    {
        Path = path;
        _socket = socket;
    }

    public string Path { get; }

    /// <summary>
    /// A duplicate of the listening descriptor for Kestrel's <c>ListenHandle</c>. Kestrel owns and closes what it is
    /// given; a duplicate keeps it from closing our descriptor, which we close ourselves in <see cref="Dispose"/>.
    /// Close-on-exec: otherwise every VMM the daemon starts (daemonized, outliving us) would inherit the listener,
    /// and a restarted daemon would find the socket still answered.
    /// </summary>
    public ulong DuplicateHandle()
    {
        var fd = NativeMethods.Libc.Fcntl((int)_socket.Handle, NativeMethods.Libc.FDupFdCloexec, 0);
        if (fd < 0)
        {
            throw new DaemonStartException($"dup of the listening socket failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        return (ulong)fd;
    }

    /// <summary>
    /// Creates the socket's directory if missing, replaces a stale socket left by a dead daemon, binds and listens.
    /// </summary>
    /// <exception cref="DaemonStartException">A live daemon answers on the path, or the path is not a socket.</exception>
    public static CriSocket Bind(string path, UnixFileMode mode, string group)
    {
        var directory = System.IO.Path.GetDirectoryName(path)!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                                 UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
                                                 UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        RemoveStale(path);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, mode);
            if (group.Length > 0)
            {
                Chgrp(path, group);
            }

            socket.Listen(512);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            throw new DaemonStartException($"cannot listen on {path}: {e.Message}", e);
        }

        return new CriSocket(path, socket);
    }

    /// <summary>Closes the listener and removes the socket file.</summary>
    public void Dispose()
    {
        _socket.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // Best effort: the next start replaces a stale socket anyway.
        }
    }

    private static void RemoveStale(string path)
    {
        if (!PathExists(path))
        {
            return;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            // Nobody listens: a daemon died without cleaning up. Replace its socket.
            File.Delete(path);
            return;
        }
        catch (SocketException e)
        {
            throw new DaemonStartException($"{path} exists and is not a usable socket ({e.Message}); remove it or choose another --cri.listen");
        }

        throw new DaemonStartException($"another process is already serving on {path}; stop it or choose another --cri.listen");
    }

    private static bool PathExists(string path)
    {
        try
        {
            _ = File.GetUnixFileMode(path);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
    }

    private static void Chgrp(string path, string group)
    {
        if (!int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
        {
            gid = LookupGroup(group) ?? throw new DaemonStartException($"cri.socket_group: no group named '{group}' in /etc/group");
        }

        if (NativeMethods.Libc.Chown(path, -1, gid) != 0)
        {
            throw new DaemonStartException($"cannot give {path} to group {group}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
    }

    private static int? LookupGroup(string name)
    {
        foreach (var line in File.ReadLines("/etc/group"))
        {
            var fields = line.Split(':');
            if (fields.Length >= 3 && fields[0] == name &&
                int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid))
            {
                return gid;
            }
        }

        return null;
    }
}
