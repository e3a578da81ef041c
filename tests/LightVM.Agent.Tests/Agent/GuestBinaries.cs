using System.Diagnostics;

namespace LightVM.Agent.Tests.Agent;

/// <summary>
/// The guest binaries under test: LIGHTVM_AGENT_DIR when set (CI builds once), otherwise built now with
/// hack/guest/build-agent.sh into artifacts/guest-agent (NativeAOT: slow the first time, incremental after).
/// </summary>
internal static class GuestBinaries
{
    private static readonly Lazy<Task<string>> Built = new(BuildAsync);

    public static Task<string> DirectoryAsync() =>
        Environment.GetEnvironmentVariable("LIGHTVM_AGENT_DIR") is { Length: > 0 } dir ? Task.FromResult(dir) : Built.Value;

    public static string RepositoryRoot()
    {
        var repo = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repo, "LightVM.Cri.sln")))
        {
            repo = Path.GetDirectoryName(repo) ?? throw new InvalidOperationException("repository root not found");
        }

        return repo;
    }

    private static async Task<string> BuildAsync()
    {
        var repo = RepositoryRoot();
        var output = Path.Combine(repo, "artifacts", "guest-agent");
        using var build = Process.Start(new ProcessStartInfo(Path.Combine(repo, "hack", "guest", "build-agent.sh"), output)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        var stderr = build.StandardError.ReadToEndAsync();
        var stdout = await build.StandardOutput.ReadToEndAsync();
        await build.WaitForExitAsync();
        return build.ExitCode == 0 ? output : throw new InvalidOperationException($"build-agent.sh failed:\n{await stderr}\n{stdout}");
    }
}
