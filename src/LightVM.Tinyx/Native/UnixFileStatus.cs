using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LightVM.Tinyx.Native;

/// <summary>The file type bits of st_mode.</summary>
public enum UnixFileType : uint
{
    Fifo = 0x1000,
    CharacterDevice = 0x2000,
    Directory = 0x4000,
    BlockDevice = 0x6000,
    RegularFile = 0x8000,
    SymbolicLink = 0xA000,
    Socket = 0xC000,
}

/// <summary>What lstat tells about a path: type, permission bits, owner, size and device numbers.</summary>
public readonly record struct UnixFileStatus(
    UnixFileType Type,
    uint Permissions,
    uint Uid,
    uint Gid,
    long Size,
    uint RdevMajor,
    uint RdevMinor)
{
    private const int StatxBufferSize = 256;
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    /// <summary>lstat the path (symlinks are not followed); false when it does not exist.</summary>
    public static bool TryGet(string path, out UnixFileStatus status)
    {
        Span<byte> buffer = stackalloc byte[StatxBufferSize];
        if (NativeMethods.Statx(NativeMethods.AtFdCwd, path, NativeMethods.AtSymlinkNoFollow, NativeMethods.StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR)
            {
                status = default;
                return false;
            }

            throw new TinyxException(TinyxErrorKind.Unavailable, $"cannot stat '{path}': {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        // Offsets from struct statx in <linux/stat.h>.
        var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer[28..]);
        status = new UnixFileStatus(
            (UnixFileType)(mode & 0xF000u),
            mode & 0xFFFu,
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[24..]),
            (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer[40..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[128..]),
            BinaryPrimitives.ReadUInt32LittleEndian(buffer[132..]));
        return true;
    }

    public static UnixFileStatus Get(string path) =>
        TryGet(path, out var status) ? status : throw new TinyxException(TinyxErrorKind.NotFound, $"'{path}' does not exist");
}
