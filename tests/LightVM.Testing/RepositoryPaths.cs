namespace LightVM.Testing;

/// <summary>The checkout the tests were built from (for scripts and docs the tests exercise).</summary>
public static class RepositoryPaths
{
    /// <summary>The directory holding LightVM.Cri.sln, found above the test assembly.</summary>
    public static string Root
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "LightVM.Cri.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("the repository root (LightVM.Cri.sln) is not above " + AppContext.BaseDirectory);
        }
    }
}
