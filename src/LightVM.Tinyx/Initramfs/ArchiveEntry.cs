namespace LightVM.Tinyx.Initramfs;

public enum ArchiveEntryType
{
    Directory,
    File,
    Symlink,
    CharacterDevice,
    BlockDevice,
    Fifo,
}

/// <summary>
/// One entry of the initramfs. <see cref="Path"/> is absolute in the guest ("/usr/bin/x"); <see cref="SourcePath"/>
/// is the host file a regular file is copied from; <see cref="Origin"/> says which input asked for it (for the
/// listing and for conflict messages). Implicit entries are parent directories nobody asked for by name.
/// </summary>
public sealed record ArchiveEntry(
    string Path,
    ArchiveEntryType Type,
    uint Permissions,
    uint Uid,
    uint Gid,
    string Origin,
    string? SourcePath = null,
    string? LinkTarget = null,
    long Size = 0,
    uint RdevMajor = 0,
    uint RdevMinor = 0,
    bool Implicit = false)
{
    /// <summary>The st_mode value: file type bits plus permissions.</summary>
    public uint Mode => Permissions | Type switch
    {
        ArchiveEntryType.Directory => 0x4000u,
        ArchiveEntryType.File => 0x8000u,
        ArchiveEntryType.Symlink => 0xA000u,
        ArchiveEntryType.CharacterDevice => 0x2000u,
        ArchiveEntryType.BlockDevice => 0x6000u,
        ArchiveEntryType.Fifo => 0x1000u,
        _ => throw new InvalidOperationException($"unknown entry type {Type}"),
    };

    public static ArchiveEntry ImplicitDirectory(string path) =>
        new(path, ArchiveEntryType.Directory, 0x1ED /* 0755 */, 0, 0, "parent directory", Implicit: true);
}
