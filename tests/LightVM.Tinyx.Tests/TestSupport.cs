using System.Diagnostics;
using System.Text;

namespace LightVM.Tinyx.Tests;

/// <summary>A temp directory removed at dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("lightvm-tinyx-test-").FullName;
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp dir must not fail a test.
        }
    }
}

/// <summary>Runs host tools (gcc, ldd, cpio) as oracles and helpers.</summary>
public static class Tools
{
    public static (int ExitCode, string Output) Run(string fileName, params string[] arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        var stderr = process.StandardError.ReadToEndAsync();
        output.Append(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
        output.Append(stderr.Result);
        return (process.ExitCode, output.ToString());
    }

    public static string RunOrFail(string fileName, params string[] arguments)
    {
        var (exit, output) = Run(fileName, arguments);
        Assert.True(exit == 0, $"{fileName} {string.Join(' ', arguments)} failed ({exit}):\n{output}");
        return output;
    }

    /// <summary>Compiles C source with gcc; extra arguments go after the source file.</summary>
    public static string CompileC(TempDirectory dir, string name, string source, params string[] gccArguments)
    {
        var sourcePath = dir.Combine(name + ".c");
        File.WriteAllText(sourcePath, source);
        var output = dir.Combine(name);
        RunOrFail("gcc", ["-O2", "-o", output, sourcePath, .. gccArguments]);
        return output;
    }
}
