using LightVM.Tinyx.Elf;

namespace LightVM.Tinyx.Tests;

public class ElfFileTests
{
    [Fact]
    public void Read_DynamicExecutable_HasInterpreterAndNeeded()
    {
        var elf = ElfFile.Read("/bin/ls");

        Assert.Equal(ElfClass.Elf64, elf.Class);
        Assert.Equal(62, elf.Machine);
        Assert.Equal("/lib64/ld-linux-x86-64.so.2", elf.Interpreter);
        Assert.Contains("libc.so.6", elf.Needed);
        Assert.True(elf.IsDynamic);
    }

    [Fact]
    public void Read_Library_HasSoName()
    {
        var elf = ElfFile.Read("/lib/x86_64-linux-gnu/libz.so.1");

        Assert.Equal("libz.so.1", elf.SoName);
        Assert.Null(elf.Interpreter);
    }

    [Fact]
    public void Read_StaticBusybox_IsNotDynamic()
    {
        var elf = ElfFile.Read("/bin/busybox");

        Assert.Null(elf.Interpreter);
        Assert.Empty(elf.Needed);
        Assert.False(elf.IsDynamic);
    }

    [Fact]
    public void Read_TextFile_ThrowsInvalidArgument()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("script.sh");
        File.WriteAllText(path, "#!/bin/sh\necho hi\n" + new string('x', 100));

        var e = Assert.Throws<TinyxException>(() => ElfFile.Read(path));

        Assert.Equal(TinyxErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.False(ElfFile.IsElf(path));
    }
}
