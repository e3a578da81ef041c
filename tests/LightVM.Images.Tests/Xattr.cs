using System.Runtime.InteropServices;
using System.Text;

namespace LightVM.Images.Tests;

/// <summary>Reads extended attributes (no getfattr on minimal machines).</summary>
internal static partial class Xattr
{
    public static string Get(string path, string name)
    {
        var buffer = new byte[4096];
        var n = LGetXattr(path, name, buffer, (nuint)buffer.Length);
        Assert.True(n >= 0, $"lgetxattr {name} on {path}: {Marshal.GetLastPInvokeErrorMessage()}");
        return Encoding.UTF8.GetString(buffer, 0, (int)n);
    }

    [LibraryImport("libc", EntryPoint = "lgetxattr", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial nint LGetXattr(string path, string name, byte[] value, nuint size);
}
