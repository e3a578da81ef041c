using System.Buffers;
using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Text;
using LightVM.Images.Internal;
using Microsoft.Win32.SafeHandles;

namespace LightVM.Images.Unpack;

/// <summary>Writing file contents and metadata (owner, mode, times, xattrs).</summary>
internal sealed partial class TarApplier
{
    /// <summary>
    /// Creates a regular file with O_EXCL|O_NOFOLLOW and sets owner, mode and times through the descriptor (a few
    /// syscalls per file: file creation dominates unpacking many small files). False when the path exists.
    /// </summary>
    private static bool TryWriteFile(string path, TarEntry entry)
    {
        var fd = NativeMethods.Open(
            path, NativeMethods.OWronly | NativeMethods.OCreat | NativeMethods.OExcl | NativeMethods.ONoFollow | NativeMethods.OCloexec, 0b110_000_000);
        if (fd < 0)
        {
            if (Marshal.GetLastPInvokeError() == NativeMethods.EExist)
            {
                return false;
            }

            throw new IOException($"create {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (entry.DataStream is { } data)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
            try
            {
                int read;
                while ((read = data.Read(buffer, 0, buffer.Length)) > 0)
                {
                    var written = 0;
                    while (written < read)
                    {
                        var n = NativeMethods.Write(handle, buffer.AsSpan(written, read - written), (nuint)(read - written));
                        if (n < 0)
                        {
                            throw new IOException($"write {path}: {Marshal.GetLastPInvokeErrorMessage()}");
                        }

                        written += (int)n;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        NativeMethods.Check(NativeMethods.FChown(handle, (uint)entry.Uid, (uint)entry.Gid), "fchown", path);
        // After chown: chown clears set-uid/set-gid bits.
        NativeMethods.Check(NativeMethods.FChmod(handle, (uint)entry.Mode & 0xfff), "fchmod", path);
        SetXattrs(path, entry);
        ReadOnlySpan<NativeMethods.Timespec> times = [Timespec(entry.ModificationTime), Timespec(entry.ModificationTime)];
        NativeMethods.Check(NativeMethods.FUtimens(handle, times), "futimens", path);
        return true;
    }

    private static void SetOwnerAndMode(string path, TarEntry entry)
    {
        NativeMethods.Check(NativeMethods.LChown(path, (uint)entry.Uid, (uint)entry.Gid), "lchown", path);
        // After chown: chown clears set-uid/set-gid bits.
        NativeMethods.Check(NativeMethods.Chmod(path, (uint)entry.Mode & 0xfff), "chmod", path);
    }

    private static NativeMethods.Timespec Timespec(DateTimeOffset time) => new()
    {
        Sec = time.ToUnixTimeSeconds(),
        Nsec = (time.UtcTicks % TimeSpan.TicksPerSecond) * 100,
    };

    private static void SetTimes(string path, DateTimeOffset mtime)
    {
        ReadOnlySpan<NativeMethods.Timespec> times = [Timespec(mtime), Timespec(mtime)];
        NativeMethods.Check(
            NativeMethods.UtimensAt(NativeMethods.AtFdCwd, path, times, NativeMethods.AtSymlinkNoFollow), "utimensat", path);
    }

    private static void SetXattrs(string path, TarEntry entry)
    {
        if (entry is not PaxTarEntry pax)
        {
            return;
        }

        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            string name;
            byte[] bytes;
            if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                name = key["SCHILY.xattr.".Length..];
                // The tar reader hands PAX values over as UTF-8 text; binary values do not survive that.
                bytes = Encoding.UTF8.GetBytes(value);
            }
            else if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
            {
                name = Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..]);
                bytes = Convert.FromBase64String(value);
            }
            else
            {
                continue;
            }

            // overlayfs's own attributes would change how the merged view is built; only whiteouts may set them.
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal))
            {
                continue;
            }

            if (NativeMethods.LSetXattr(path, name, bytes, (nuint)bytes.Length, 0) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (NativeMethods.ENotSup or NativeMethods.EPerm))
                {
                    throw new IOException($"setxattr {name} on {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
    }
}
