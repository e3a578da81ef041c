using LightVM.Runtime;
using LightVM.Runtime.Pods;

namespace LightVM.Runtime.Tests;

public sealed class ContainerUserTests
{
    private static readonly Dictionary<string, string> Files = new()
    {
        ["/etc/passwd"] = "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\nbroken:line\nweb:x:33:33:www:/var/www:/bin/false\n",
        ["/etc/group"] = "root:x:0:\nappgrp:x:1001:\nextra:x:2000:app,web\nothers:x:3000: app \n",
    };

    [Fact]
    public void Resolve_NothingSet_Root() =>
        Assert.Equal(new ProcessIdentity(0, 0, []), Resolve(null, null, null, ""), Same);

    [Fact]
    public void Resolve_ImageUserName_PasswdIdsAndMemberGroups() =>
        Assert.Equal(new ProcessIdentity(1000, 1001, [2000, 3000]), Resolve(null, null, null, "app"), Same);

    [Fact]
    public void Resolve_ImageUserAndGroupNames_GroupFromGroupFile() =>
        Assert.Equal(new ProcessIdentity(33, 2000, [2000]), Resolve(null, null, null, "web:extra"), Same);

    [Fact]
    public void Resolve_NumericImageUserNotInPasswd_UidAndGidZero() =>
        Assert.Equal(new ProcessIdentity(4242, 7, []), Resolve(null, null, null, "4242:7"), Same);

    [Fact]
    public void Resolve_RunAsUserOverridesImage_PrimaryGroupFromPasswd() =>
        Assert.Equal(new ProcessIdentity(1000, 1001, [2000, 3000]), Resolve(1000, null, null, "web"), Same);

    [Fact]
    public void Resolve_RunAsUsernameAndGroupAndSupplemental_AllApplied() =>
        Assert.Equal(new ProcessIdentity(33, 5, [2000, 9]), Resolve(null, "web", 5, "app", [9, 2000]), Same);

    [Theory]
    [InlineData(null, "ghost", null, "", "ghost")]
    [InlineData(null, null, null, "ghost", "ghost")]
    [InlineData(null, null, null, "app:nogroup", "nogroup")]
    [InlineData(null, null, 5L, "app", "run_as_group")]
    [InlineData(7L, "web", null, "", "run_as_username")]
    [InlineData(-1L, null, null, "", "run_as_user")]
    public void Resolve_Bad_InvalidArgumentNamingIt(long? uid, string? username, long? gid, string imageUser, string named)
    {
        var e = Assert.Throws<RuntimeException>(() => Resolve(uid, username, gid, imageUser));
        Assert.Equal(RuntimeErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_NoPasswdFile_NamedUserRefusedNumericAccepted()
    {
        Assert.Throws<RuntimeException>(() => ContainerUser.Resolve(null, "app", null, "", [], _ => null));
        Assert.Equal(new ProcessIdentity(5, 0, []), ContainerUser.Resolve(5, null, null, "", [], _ => null), Same);
    }

    [Theory]
    [InlineData(null, 15u)]
    [InlineData("", 15u)]
    [InlineData("SIGQUIT", 3u)]
    [InlineData("quit", 3u)]
    [InlineData("9", 9u)]
    [InlineData("SIGRTMIN+3", 37u)]
    [InlineData("RTMAX-1", 63u)]
    [InlineData("SIGWINCH", 28u)]
    public void StopSignalsParse_Known_Number(string? text, uint number) => Assert.Equal(number, StopSignals.Parse(text));

    [Theory]
    [InlineData("SIGNOPE")]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("RTMIN+40")]
    public void StopSignalsParse_Unknown_InvalidArgument(string text) =>
        Assert.Equal(RuntimeErrorKind.InvalidArgument, Assert.Throws<RuntimeException>(() => StopSignals.Parse(text)).Kind);

    private static ProcessIdentity Resolve(long? uid, string? username, long? gid, string imageUser, long[]? supplemental = null) =>
        ContainerUser.Resolve(uid, username, gid, imageUser, supplemental ?? [], path => Files.GetValueOrDefault(path));

    private static readonly IEqualityComparer<ProcessIdentity> Same = EqualityComparer<ProcessIdentity>.Create(
        (a, b) => a!.Uid == b!.Uid && a.Gid == b.Gid && a.AdditionalGids.SequenceEqual(b.AdditionalGids),
        p => (int)p.Uid);
}
