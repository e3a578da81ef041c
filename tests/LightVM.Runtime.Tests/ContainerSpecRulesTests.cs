using LightVM.Images;
using LightVM.Runtime;
using LightVM.Runtime.Pods;

namespace LightVM.Runtime.Tests;

public sealed class ContainerSpecRulesTests
{
    private static readonly ImageConfig Image = new()
    {
        Entrypoint = ["/entry"],
        Cmd = ["default", "cmd"],
        Env = ["PATH=/bin", "A=image"],
    };

    [Fact]
    public void BuildArgs_NothingGiven_ImageEntrypointThenCmd() =>
        Assert.Equal(["/entry", "default", "cmd"], PodManager.BuildArgs(Spec([], []), Image));

    [Fact]
    public void BuildArgs_ArgsOnly_ReplaceImageCmdKeepEntrypoint() =>
        Assert.Equal(["/entry", "x"], PodManager.BuildArgs(Spec([], ["x"]), Image));

    [Fact]
    public void BuildArgs_CommandOnly_ReplacesEntrypointAndDropsImageCmd() =>
        Assert.Equal(["sh"], PodManager.BuildArgs(Spec(["sh"], []), Image));

    [Fact]
    public void BuildArgs_CommandAndArgs_BothFromConfig() =>
        Assert.Equal(["sh", "-c", "true"], PodManager.BuildArgs(Spec(["sh"], ["-c", "true"]), Image));

    [Fact]
    public void BuildArgs_NothingAnywhere_InvalidArgumentNamingContainer()
    {
        var e = Assert.Throws<RuntimeException>(() => PodManager.BuildArgs(Spec([], []), new ImageConfig()));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("\"c\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MergeEnv_ConfigRedefinesImageVariable_ConfigValueWinsOnce() =>
        Assert.Equal(["PATH=/bin", "A=config", "B=new"],
            PodManager.MergeEnv(Image.Env, [KeyValuePair.Create("A", "config"), KeyValuePair.Create("B", "new")]));

    private static ContainerSpec Spec(IReadOnlyList<string> command, IReadOnlyList<string> args) =>
        new("c", 0, "img", command, args, "", [], [], "", new Dictionary<string, string>(), new Dictionary<string, string>(), null, null);
}
