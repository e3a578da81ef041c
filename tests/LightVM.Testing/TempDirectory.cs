namespace LightVM.Testing;

/// <summary>A directory under /tmp removed with everything in it when disposed. Short, for unix socket paths.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "lvt")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
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
            // A mount or a busy file left by a failed test; the OS cleans /tmp.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
