namespace LightVM.Tinyx.Elf;

public enum ElfDependencyKind
{
    /// <summary>The program interpreter named by PT_INTERP (the dynamic linker itself).</summary>
    Interpreter,

    /// <summary>A library named by DT_NEEDED of the executable or of another library.</summary>
    Needed,
}

/// <summary>
/// One file the dynamic linker opens when it starts the program.
/// <see cref="GuestPath"/> is where the loader will look in the guest (the path to place it at, symlinks kept);
/// <see cref="HostPath"/> is the file to take it from. When <see cref="Relocated"/> is false the two name the same
/// file of the sysroot; when true it was found through $ORIGIN of an object placed somewhere else in the guest.
/// </summary>
public sealed record ElfDependency(
    string Name,
    ElfDependencyKind Kind,
    string GuestPath,
    string HostPath,
    string RequiredBy,
    bool Relocated);

/// <summary>An executable (or library) and everything the loader opens to start it, in load order.</summary>
public sealed record ElfClosure(string GuestPath, string HostPath, ElfFile Elf, IReadOnlyList<ElfDependency> Dependencies)
{
    /// <summary>True for static executables: nothing to copy besides the file itself.</summary>
    public bool IsSelfContained => Dependencies.Count == 0;
}

/// <summary>How the resolver searches, matching the target system's dynamic linker.</summary>
public sealed class LibrarySearchOptions
{
    /// <summary>The tree the guest's libraries come from; the host's "/" by default, or an unpacked rootfs.</summary>
    public SysRoot Root { get; init; } = SysRoot.Host;

    /// <summary>The ld.so.conf to read (a guest path inside <see cref="Root"/>).</summary>
    public string LdSoConfPath { get; init; } = "/etc/ld.so.conf";

    /// <summary>
    /// The loader's built-in directories, searched after ld.so.conf's. glibc's list depends on how it was built
    /// (Debian: multiarch dirs, others: lib64); the union is harmless because the first match wins.
    /// </summary>
    public IReadOnlyList<string> DefaultDirectories { get; init; } =
        ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"];
}
