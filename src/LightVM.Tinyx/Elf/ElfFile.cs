using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace LightVM.Tinyx.Elf;

public enum ElfClass : byte
{
    Elf32 = 1,
    Elf64 = 2,
}

/// <summary>
/// The parts of an ELF file the dynamic linker reads before it maps anything: class, machine, PT_INTERP and the
/// dynamic section's DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH and DF_1_NODEFLIB. Little-endian only.
/// Reads only the byte ranges it needs, so large libraries cost a few small reads.
/// </summary>
public sealed class ElfFile
{
    private const uint PtLoad = 1;
    private const uint PtDynamic = 2;
    private const uint PtInterp = 3;
    private const long DtNull = 0;
    private const long DtNeeded = 1;
    private const long DtStrTab = 5;
    private const long DtStrSz = 10;
    private const long DtSoName = 14;
    private const long DtRPath = 15;
    private const long DtRunPath = 29;
    private const long DtFlags1 = 0x6ffffffb;
    private const ulong Df1NoDefLib = 0x800;
    private const int MaxHeaderTableBytes = 1 << 20;

    private ElfFile(string path, ElfClass elfClass, ushort machine)
    {
        Path = path;
        Class = elfClass;
        Machine = machine;
    }

    public string Path { get; }

    public ElfClass Class { get; }

    /// <summary>e_machine (62 is x86_64).</summary>
    public ushort Machine { get; }

    /// <summary>The program interpreter from PT_INTERP, or null for a static executable or a library.</summary>
    public string? Interpreter { get; private set; }

    public IReadOnlyList<string> Needed { get; private set; } = [];

    public string? SoName { get; private set; }

    /// <summary>DT_RPATH directories, unexpanded ($ORIGIN kept). Ignored by the loader when DT_RUNPATH exists.</summary>
    public IReadOnlyList<string> RPath { get; private set; } = [];

    /// <summary>DT_RUNPATH directories, unexpanded; null when the object has no DT_RUNPATH.</summary>
    public IReadOnlyList<string>? RunPath { get; private set; }

    /// <summary>DF_1_NODEFLIB: the loader skips its cache and default directories for this object's dependencies.</summary>
    public bool NoDefaultLibraries { get; private set; }

    /// <summary>True when the loader has work to do for this file (an interpreter or needed libraries).</summary>
    public bool IsDynamic => Interpreter is not null || Needed.Count > 0;

    /// <summary>Reads class and machine only; false when the file is not a little-endian ELF.</summary>
    public static bool TryReadIdentity(string path, out ElfClass elfClass, out ushort machine)
    {
        elfClass = default;
        machine = 0;
        Span<byte> ident = stackalloc byte[20];
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            if (RandomAccess.Read(handle, ident, 0) < ident.Length || !IsElfLittleEndian(ident))
            {
                return false;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        elfClass = (ElfClass)ident[4];
        machine = BinaryPrimitives.ReadUInt16LittleEndian(ident[18..]);
        return true;
    }

    /// <summary>True when the file starts with the ELF magic.</summary>
    public static bool IsElf(string path) => TryReadIdentity(path, out _, out _);

    public static ElfFile Read(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
            return Parse(path, handle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TinyxException(TinyxErrorKind.NotFound, $"cannot read ELF file '{path}': {e.Message}", e);
        }
    }

    private static bool IsElfLittleEndian(ReadOnlySpan<byte> ident) =>
        ident[0] == 0x7f && ident[1] == (byte)'E' && ident[2] == (byte)'L' && ident[3] == (byte)'F'
        && (ident[4] is (byte)ElfClass.Elf32 or (byte)ElfClass.Elf64) && ident[5] == 1;

    private static ElfFile Parse(string path, SafeFileHandle handle)
    {
        var length = RandomAccess.GetLength(handle);
        var header = ReadExactly(handle, 0, 64, length, path);
        if (!IsElfLittleEndian(header))
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{path}' is not a little-endian ELF file");
        }

        var is64 = header[4] == (byte)ElfClass.Elf64;
        var elf = new ElfFile(path, (ElfClass)header[4], BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(18)));
        var phOff = is64 ? (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(32)) : BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(28));
        var phEntSize = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(is64 ? 54 : 42));
        var phNum = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(is64 ? 56 : 44));
        if (phNum == 0)
        {
            return elf;
        }

        if (phEntSize < (is64 ? 56 : 32) || phEntSize * phNum > MaxHeaderTableBytes)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{path}' has a malformed program header table");
        }

        var table = ReadExactly(handle, phOff, phEntSize * phNum, length, path);
        var segments = new List<Segment>(phNum);
        for (var i = 0; i < phNum; i++)
        {
            segments.Add(Segment.Parse(table.AsSpan(i * phEntSize, phEntSize), is64));
        }

        foreach (var interp in segments.Where(s => s.Type == PtInterp))
        {
            var bytes = ReadExactly(handle, interp.Offset, checked((int)interp.FileSize), length, path);
            elf.Interpreter = Encoding.UTF8.GetString(bytes.AsSpan().TrimEnd((byte)0));
        }

        var dynamic = segments.FirstOrDefault(s => s.Type == PtDynamic);
        if (dynamic.Type == PtDynamic)
        {
            elf.ParseDynamic(handle, length, dynamic, segments.Where(s => s.Type == PtLoad).ToList(), is64);
        }

        return elf;
    }

    private void ParseDynamic(SafeFileHandle handle, long length, Segment dynamic, List<Segment> loads, bool is64)
    {
        var entrySize = is64 ? 16 : 8;
        var bytes = ReadExactly(handle, dynamic.Offset, checked((int)Math.Min(dynamic.FileSize, MaxHeaderTableBytes)), length, Path);
        var entries = new List<(long Tag, ulong Value)>();
        for (var at = 0; at + entrySize <= bytes.Length; at += entrySize)
        {
            var span = bytes.AsSpan(at, entrySize);
            var tag = is64 ? BinaryPrimitives.ReadInt64LittleEndian(span) : BinaryPrimitives.ReadInt32LittleEndian(span);
            var value = is64 ? BinaryPrimitives.ReadUInt64LittleEndian(span[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
            if (tag == DtNull)
            {
                break;
            }

            entries.Add((tag, value));
        }

        var strTabAddress = entries.FirstOrDefault(e => e.Tag == DtStrTab).Value;
        var strSize = entries.FirstOrDefault(e => e.Tag == DtStrSz).Value;
        if (strTabAddress == 0 || strSize == 0)
        {
            return;
        }

        // DT_STRTAB holds a virtual address; the PT_LOAD segment containing it maps it back to a file offset.
        var load = loads.FirstOrDefault(s => strTabAddress >= s.VirtualAddress && strTabAddress < s.VirtualAddress + s.FileSize);
        if (load.Type != PtLoad || strSize > MaxHeaderTableBytes * 16UL)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{Path}' has a dynamic string table outside its loadable segments");
        }

        var strings = ReadExactly(handle, load.Offset + (long)(strTabAddress - load.VirtualAddress), (int)strSize, length, Path);
        string Str(ulong offset)
        {
            if (offset >= (ulong)strings.Length)
            {
                throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{Path}' has a dynamic string offset out of range");
            }

            var rest = strings.AsSpan((int)offset);
            var end = rest.IndexOf((byte)0);
            return Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
        }

        static string[] SplitPath(string value) => value.Split(':', StringSplitOptions.RemoveEmptyEntries);

        Needed = entries.Where(e => e.Tag == DtNeeded).Select(e => Str(e.Value)).ToArray();
        var soname = entries.FirstOrDefault(e => e.Tag == DtSoName);
        SoName = soname.Tag == DtSoName ? Str(soname.Value) : null;
        RPath = entries.Where(e => e.Tag == DtRPath).SelectMany(e => SplitPath(Str(e.Value))).ToArray();
        var runPath = entries.Where(e => e.Tag == DtRunPath).ToList();
        RunPath = runPath.Count == 0 ? null : runPath.SelectMany(e => SplitPath(Str(e.Value))).ToArray();
        NoDefaultLibraries = entries.Any(e => e.Tag == DtFlags1 && (e.Value & Df1NoDefLib) != 0);
    }

    private static byte[] ReadExactly(SafeFileHandle handle, long offset, int count, long length, string path)
    {
        if (offset < 0 || count < 0 || offset + count > length)
        {
            throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{path}' is truncated or malformed (range {offset}+{count} beyond {length} bytes)");
        }

        var buffer = new byte[count];
        var done = 0;
        while (done < count)
        {
            var n = RandomAccess.Read(handle, buffer.AsSpan(done), offset + done);
            if (n == 0)
            {
                throw new TinyxException(TinyxErrorKind.InvalidArgument, $"'{path}' ended early while reading its headers");
            }

            done += n;
        }

        return buffer;
    }

    private readonly record struct Segment(uint Type, long Offset, ulong VirtualAddress, ulong FileSize)
    {
        public static Segment Parse(ReadOnlySpan<byte> entry, bool is64) => is64
            ? new Segment(
                BinaryPrimitives.ReadUInt32LittleEndian(entry),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(entry[32..]))
            : new Segment(
                BinaryPrimitives.ReadUInt32LittleEndian(entry),
                BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]),
                BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]),
                BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]));
    }
}
