using System.Diagnostics;

namespace LightVM.Tinyx.Kernel;

/// <summary>Runs a tool, hands each output line (stdout and stderr) to a callback, kills the tree on cancellation.</summary>
internal static class ProcessRunner
{
    public static async Task<int> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string> environment,
        Action<string> onLine,
        CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = new Process { StartInfo = info };
        var gate = new object();
        void Forward(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    onLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Forward(e.Data);
        process.ErrorDataReceived += (_, e) => Forward(e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new TinyxException(TinyxErrorKind.FailedPrecondition, $"cannot run '{fileName}': {e.Message} (is it installed?)", e);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        // WaitForExitAsync returns after the output streams reached EOF, so every line was delivered.
        return process.ExitCode;
    }
}
