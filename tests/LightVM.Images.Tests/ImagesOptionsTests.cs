using LightVM.Images.Distribution;

namespace LightVM.Images.Tests;

public class ImagesOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoProblems()
    {
        Assert.Empty(new ImagesOptions().Validate("images"));
    }

    [Fact]
    public void Validate_Problems_EachNamesItsFullKey()
    {
        var options = new ImagesOptions
        {
            MaxConcurrentDownloads = 0,
            Root = "relative/dir",
            Pinned = ["busybox", "Bad/Name"],
            Registries =
            {
                ["docker.io"] = new RegistryHostOptions { Mirrors = ["http://127.0.0.1:5000", "ftp://x", "not a url"] },
                ["bad host!"] = new RegistryHostOptions { Password = "p" },
            },
        };

        var problems = options.Validate("images").ToList();

        Assert.Contains(problems, p => p.StartsWith("images.max_concurrent_downloads:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.root:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.pinned[1]:", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.StartsWith("images.pinned[0]", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.registries.\"docker.io\".mirrors[1]: not an absolute http(s) URL", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.registries.\"docker.io\".mirrors[2]:", StringComparison.Ordinal));
        Assert.DoesNotContain(problems, p => p.StartsWith("images.registries.\"docker.io\".mirrors[0]", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.registries.\"bad host!\":", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("images.registries.\"bad host!\".password:", StringComparison.Ordinal));
    }

    [Fact]
    public void RegistryHosts_MirrorsThenUpstream_LoopbackPlainHttp()
    {
        var options = new ImagesOptions
        {
            Registries =
            {
                ["docker.io"] = new RegistryHostOptions { Mirrors = ["http://127.0.0.1:5000", "https://mirror.example.com/v2/"] },
                ["insecure.example.com"] = new RegistryHostOptions { Insecure = true },
            },
        };
        var hosts = new RegistryHosts(options);

        var hub = hosts.For("docker.io");
        var local = hosts.For("localhost:5000");
        var insecure = hosts.For("insecure.example.com");
        var secure = hosts.For("quay.io");

        Assert.Equal(["http://127.0.0.1:5000/", "https://mirror.example.com/", "https://registry-1.docker.io/"], hub.Select(e => e.BaseUri.ToString()));
        Assert.True(hub[0].IsMirror);
        Assert.False(hub[2].IsMirror);
        Assert.Equal(["http://localhost:5000/"], local.Select(e => e.BaseUri.ToString()));
        Assert.Equal(["https://insecure.example.com/", "http://insecure.example.com/"], insecure.Select(e => e.BaseUri.ToString()));
        Assert.True(insecure[0].SkipTlsVerify);
        Assert.Equal(["https://quay.io/"], secure.Select(e => e.BaseUri.ToString()));
        Assert.False(secure[0].SkipTlsVerify);
    }

    [Theory]
    [InlineData("localhost", true)]
    [InlineData("localhost:5000", true)]
    [InlineData("127.0.0.1:5000", true)]
    [InlineData("127.8.9.10", true)]
    [InlineData("[::1]:5000", true)]
    [InlineData("10.0.0.1:5000", false)]
    [InlineData("localhost.example.com", false)]
    public void IsLoopback_Hosts(string host, bool expected)
    {
        Assert.Equal(expected, RegistryHosts.IsLoopback(host));
    }

    [Fact]
    public void ChallengeParameters_QuotedCommas_Parsed()
    {
        var parameters = Challenge.ParseParameters("realm=\"https://auth.example.com/token\",service=\"registry.example.com\",scope=\"repository:a/b:pull,push\"");

        Assert.Equal("https://auth.example.com/token", parameters["realm"]);
        Assert.Equal("registry.example.com", parameters["service"]);
        Assert.Equal("repository:a/b:pull,push", parameters["scope"]);
    }

    [Fact]
    public void ImageRecord_User_SplitsUidAndName()
    {
        ImageRecord Make(string user) => new() { Id = "sha256:x", ConfigDigest = "sha256:x", Config = new ImageConfig { User = user } };

        Assert.Equal(1000, Make("1000").Uid);
        Assert.Equal(1000, Make("1000:1000").Uid);
        Assert.Equal("", Make("1000").Username);
        Assert.Null(Make("nginx").Uid);
        Assert.Equal("nginx", Make("nginx:nginx").Username);
        Assert.Null(Make("").Uid);
        Assert.Equal("", Make("").Username);
    }

    [Fact]
    public void ChainIds_FollowOciDefinition()
    {
        var a = "sha256:" + new string('a', 64);
        var b = "sha256:" + new string('b', 64);

        var chain = ImageManager.ChainIds([a, b]);

        Assert.Equal(a, chain[0]);
        var expected = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes($"{a} {b}")));
        Assert.Equal(expected, chain[1]);
    }
}
