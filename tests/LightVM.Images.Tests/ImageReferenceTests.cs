namespace LightVM.Images.Tests;

public class ImageReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("busybox:1.36", "docker.io/library/busybox:1.36")]
    [InlineData("library/busybox", "docker.io/library/busybox:latest")]
    [InlineData("docker.io/busybox", "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox:1", "docker.io/library/busybox:1")]
    [InlineData("bitnami/redis:7", "docker.io/bitnami/redis:7")]
    [InlineData("localhost/foo", "localhost/foo:latest")]
    [InlineData("localhost:5000/foo/bar:v1", "localhost:5000/foo/bar:v1")]
    [InlineData("127.0.0.1:5000/a/b/c:v_1.2-3", "127.0.0.1:5000/a/b/c:v_1.2-3")]
    [InlineData("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10")]
    [InlineData("gcr.io/my-proj/app__x", "gcr.io/my-proj/app__x:latest")]
    [InlineData("[::1]:5000/foo", "[::1]:5000/foo:latest")]
    [InlineData("Foo/bar", "Foo/bar:latest")]
    public void Parse_ValidName_NormalisesLikeContainerd(string input, string expected)
    {
        Assert.Equal(expected, ImageReference.Parse(input).ToString());
    }

    [Fact]
    public void Parse_Digest_KeepsDigestAndDropsTag()
    {
        var digest = "sha256:" + new string('a', 64);
        var byDigest = ImageReference.Parse($"busybox@{digest}");
        var both = ImageReference.Parse($"busybox:1.36@{digest}");

        Assert.Equal($"docker.io/library/busybox@{digest}", byDigest.ToString());
        Assert.Equal(byDigest, both);
        Assert.Null(both.Tag);
        Assert.Equal(digest, both.Reference);
    }

    [Fact]
    public void Parse_DockerHub_SplitsDomainAndPath()
    {
        var reference = ImageReference.Parse("nginx");

        Assert.Equal("docker.io", reference.Domain);
        Assert.Equal("library/nginx", reference.Path);
        Assert.Equal("docker.io/library/nginx", reference.Name);
        Assert.Equal("latest", reference.Reference);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("upper/Case")]
    [InlineData("docker.io/Library/busybox")]
    [InlineData("busybox:")]
    [InlineData("busybox:bad tag")]
    [InlineData("busybox@sha256:1234")]
    [InlineData("busybox@md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("a//b")]
    [InlineData("-leading/x")]
    [InlineData("foo_/bar")]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Parse_Invalid_ThrowsInvalidArgumentNamingReference(string input)
    {
        var e = Assert.Throws<ImageException>(() => ImageReference.Parse(input));

        Assert.Equal(ImageErrorKind.InvalidArgument, e.Kind);
        if (input.Trim().Length > 0)
        {
            Assert.Contains(input, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Parse_TooLong_Throws()
    {
        var e = Assert.Throws<ImageException>(() => ImageReference.Parse("example.com/" + new string('a', 250)));

        Assert.Contains("longer than", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithDigestAndWithTag_KeepName()
    {
        var reference = ImageReference.Parse("localhost:5000/app:v1");
        var digest = "sha256:" + new string('b', 64);

        Assert.Equal($"localhost:5000/app@{digest}", reference.WithDigest(digest).ToString());
        Assert.Equal("localhost:5000/app:v2", reference.WithTag("v2").ToString());
    }
}
