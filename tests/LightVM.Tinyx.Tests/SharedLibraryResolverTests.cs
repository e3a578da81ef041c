using System.Text.RegularExpressions;
using LightVM.Tinyx.Elf;

namespace LightVM.Tinyx.Tests;

public partial class SharedLibraryResolverTests
{
    private const string TinyLibrary = "int tiny(void) { return 42; }\n";
    private const string TinyProgram = "int tiny(void);\nint main(void) { return tiny() == 42 ? 0 : 1; }\n";

    [Theory]
    [InlineData("/bin/ls")]
    [InlineData("/usr/bin/ssh")]
    [InlineData("/usr/bin/xz")]
    [InlineData("/usr/bin/curl")]
    [InlineData("/usr/bin/git")]
    [InlineData("/usr/bin/qemu-system-x86_64")]
    public void Resolve_RealExecutable_MatchesLdd(string program)
    {
        var expected = ParseLdd(Tools.RunOrFail("ldd", program));

        var closure = new SharedLibraryResolver().Resolve(program, program);

        Assert.Equal(expected.Order(StringComparer.Ordinal), closure.Dependencies.Select(d => d.GuestPath).Order(StringComparer.Ordinal));
        Assert.Equal(ElfDependencyKind.Interpreter, closure.Dependencies[0].Kind);
        Assert.All(closure.Dependencies, d => Assert.False(d.Relocated));
    }

    [Fact]
    public void Resolve_StaticBinary_HasEmptyClosure()
    {
        using var dir = new TempDirectory();
        var program = Tools.CompileC(dir, "static", "int main(void) { return 0; }\n", "-static");

        Assert.True(new SharedLibraryResolver().Resolve(program, "/init").IsSelfContained);
        Assert.True(new SharedLibraryResolver().Resolve("/bin/busybox", "/bin/busybox").IsSelfContained);
    }

    [Fact]
    public void Resolve_OriginRunPath_PlacesLibraryRelativeToGuestLocation()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("lib"));
        Directory.CreateDirectory(dir.Combine("bin"));
        Tools.CompileC(dir, "lib/libtiny.so", TinyLibrary, "-shared", "-fPIC", "-Wl,-soname,libtiny.so");
        var program = Tools.CompileC(dir, "bin/app", TinyProgram, "-L" + dir.Combine("lib"), "-ltiny", "-Wl,-rpath,$ORIGIN/../lib");
        Assert.Equal(0, Tools.Run(program).ExitCode); // the real loader agrees that $ORIGIN/../lib finds it

        var closure = new SharedLibraryResolver().Resolve(program, "/opt/app/bin/app");

        var tiny = Assert.Single(closure.Dependencies, d => d.Name == "libtiny.so");
        Assert.Equal("/opt/app/lib/libtiny.so", tiny.GuestPath);
        Assert.Equal(dir.Combine("lib", "libtiny.so"), tiny.HostPath);
        Assert.True(tiny.Relocated);
        Assert.Equal(["$ORIGIN/../lib"], closure.Elf.RunPath);
        Assert.Contains(closure.Dependencies, d => d.Name == "libc.so.6" && !d.Relocated);
    }

    [Fact]
    public void Resolve_RPathOfExecutable_AppliesToDependenciesOfDependencies()
    {
        using var dir = BuildChain(newDtags: false, out var program);
        Assert.Equal(0, Tools.Run(program).ExitCode);

        var closure = new SharedLibraryResolver().Resolve(program, program);

        var b = Assert.Single(closure.Dependencies, d => d.Name == "libb.so");
        Assert.Equal(dir.Combine("lib", "libb.so"), b.GuestPath);
        Assert.Equal(dir.Combine("lib", "liba.so"), b.RequiredBy);
    }

    [Fact]
    public void Resolve_RunPathIsNotInherited_ThrowsNamingMissingLibrary()
    {
        using var dir = BuildChain(newDtags: true, out var program);
        var (exit, output) = Tools.Run(program);
        Assert.NotEqual(0, exit); // the real loader cannot find libb.so either
        Assert.Contains("libb.so", output, StringComparison.Ordinal);

        var e = Assert.Throws<TinyxException>(() => new SharedLibraryResolver().Resolve(program, program));

        Assert.Equal(TinyxErrorKind.NotFound, e.Kind);
        Assert.Contains("'libb.so'", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.Combine("lib", "liba.so"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_DeletedLibrary_ThrowsNamingIt()
    {
        using var dir = new TempDirectory();
        Tools.CompileC(dir, "libgone.so", TinyLibrary.Replace("tiny", "gone", StringComparison.Ordinal), "-shared", "-fPIC");
        var program = Tools.CompileC(dir, "app", TinyProgram.Replace("tiny", "gone", StringComparison.Ordinal), "-L" + dir.Path, "-lgone", "-Wl,-rpath," + dir.Path);
        File.Delete(dir.Combine("libgone.so"));

        var e = Assert.Throws<TinyxException>(() => new SharedLibraryResolver().Resolve(program, "/app"));

        Assert.Equal(TinyxErrorKind.NotFound, e.Kind);
        Assert.Contains("library 'libgone.so' needed by '/app' was not found", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.Path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_InsideSysRoot_AbsoluteSymlinksStayInside()
    {
        using var dir = new TempDirectory();
        var root = dir.Combine("root");
        Directory.CreateDirectory(Path.Combine(root, "usr/lib/x86_64-linux-gnu"));
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc/ld.so.conf"), "include /etc/ld.so.conf.d/*.conf\n");
        Directory.CreateDirectory(Path.Combine(root, "etc/ld.so.conf.d"));
        File.WriteAllText(Path.Combine(root, "etc/ld.so.conf.d/app.conf"), "/opt/applib # our libraries\n");
        Directory.CreateDirectory(Path.Combine(root, "opt/applib"));
        Tools.CompileC(dir, "root/opt/applib/libtiny.so.1.0", TinyLibrary, "-shared", "-fPIC", "-Wl,-soname,libtiny.so.1");
        File.CreateSymbolicLink(Path.Combine(root, "opt/applib/libtiny.so.1"), "libtiny.so.1.0");
        File.CreateSymbolicLink(Path.Combine(root, "opt/applib/libtiny.so"), "/opt/applib/libtiny.so.1");
        Tools.CompileC(dir, "root/bin/app", TinyProgram, Path.Combine(root, "opt/applib/libtiny.so.1.0"));
        foreach (var library in new[] { "libc.so.6" })
        {
            File.Copy("/lib/x86_64-linux-gnu/" + library, Path.Combine(root, "usr/lib/x86_64-linux-gnu", library));
        }

        // The interpreter link points at a directory only the sysroot has: resolving it on the host would fail.
        Directory.CreateDirectory(Path.Combine(root, "lib64"));
        Directory.CreateDirectory(Path.Combine(root, "opt/sysroot-only"));
        File.Copy("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", Path.Combine(root, "opt/sysroot-only/ld-linux-x86-64.so.2"));
        File.CreateSymbolicLink(Path.Combine(root, "lib64/ld-linux-x86-64.so.2"), "/opt/sysroot-only/ld-linux-x86-64.so.2");
        var resolver = new SharedLibraryResolver(new LibrarySearchOptions { Root = new SysRoot(root) });

        var closure = resolver.Resolve(Path.Combine(root, "bin/app"), "/bin/app");

        Assert.Equal(
            ["/lib64/ld-linux-x86-64.so.2", "/opt/applib/libtiny.so.1", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
            closure.Dependencies.Select(d => d.GuestPath).Order(StringComparer.Ordinal));
        Assert.All(closure.Dependencies, d => Assert.StartsWith(root, d.HostPath, StringComparison.Ordinal));
    }

    private static TempDirectory BuildChain(bool newDtags, out string program)
    {
        var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("lib"));
        Directory.CreateDirectory(dir.Combine("bin"));
        var lib = dir.Combine("lib");
        Tools.CompileC(dir, "lib/libb.so", "int b(void) { return 7; }\n", "-shared", "-fPIC", "-Wl,-soname,libb.so");
        Tools.CompileC(dir, "lib/liba.so", "int b(void);\nint a(void) { return b() + 1; }\n", "-shared", "-fPIC", "-Wl,-soname,liba.so", "-L" + lib, "-lb");
        program = Tools.CompileC(
            dir,
            "bin/app",
            "int a(void);\nint main(void) { return a() == 8 ? 0 : 1; }\n",
            "-L" + lib,
            "-la",
            "-Wl,-rpath-link," + lib,
            newDtags ? "-Wl,--enable-new-dtags" : "-Wl,--disable-new-dtags",
            "-Wl,-rpath,$ORIGIN/../lib");
        return dir;
    }

    /// <summary>The paths ldd says the loader opens: "name => /path (addr)" and "/interp (addr)" lines.</summary>
    private static List<string> ParseLdd(string output) =>
        output.Split('\n')
            .Select(l => LddLine().Match(l))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)
            .ToList();

    [GeneratedRegex(@"^\s+(?:\S+ => )?(/\S+) \(0x[0-9a-f]+\)$")]
    private static partial Regex LddLine();
}
