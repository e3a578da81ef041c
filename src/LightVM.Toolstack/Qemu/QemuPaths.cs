namespace LightVM.Toolstack.Qemu;

/// <summary>The files of one VM, all inside its own run directory.</summary>
internal sealed record QemuPaths(string RunDirectory)
{
    /// <summary>sun_path holds 108 bytes including the terminating NUL.</summary>
    public const int MaxSocketPath = 107;

    public string QmpSocket => Path.Combine(RunDirectory, "qmp.sock");

    public string AgentSocket => Path.Combine(RunDirectory, "agent.sock");

    public string ConsoleLog => Path.Combine(RunDirectory, "console.log");

    public string PidFile => Path.Combine(RunDirectory, "qemu.pid");

    /// <summary>Exported to the guest over virtio-9p; shares are bind-mounted into subdirectories.</summary>
    public string Share => Path.Combine(RunDirectory, "share");

    /// <summary>The last bytes of the guest console, for error messages.</summary>
    public string ConsoleTail(int maxChars = 600)
    {
        try
        {
            using var stream = new FileStream(ConsoleLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Max(0, stream.Length - maxChars), SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            var text = reader.ReadToEnd().Trim();
            return text.Length == 0 ? "(console empty)" : text;
        }
        catch (IOException)
        {
            return "(no console log)";
        }
    }
}
