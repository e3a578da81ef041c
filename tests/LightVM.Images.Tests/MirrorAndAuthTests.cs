using LightVM.Testing;
using Xunit.Abstractions;

namespace LightVM.Images.Tests;

public sealed class MirrorTests(RegistryFixture mirror, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task PullAsync_DockerHubThroughMirror_KeepsOriginalName()
    {
        // The mirror holds the image under the upstream path; docker.io itself is unreachable from here.
        var image = new OciImageBuilder(new LayerBuilder().File("mirrored", "yes").Build()).Build();
        await mirror.Pusher.PushAsync("library/mirrortest", "1.0", image);
        var options = new ImagesOptions
        {
            Registries = { ["docker.io"] = new RegistryHostOptions { Mirrors = [mirror.Url.ToString()] } },
        };
        using var store = new ImageStore(output, options);
        var manager = store.Open();

        var record = await manager.PullAsync("mirrortest:1.0", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        Assert.Equal(["docker.io/library/mirrortest:1.0"], record.RepoTags);
        Assert.Equal([$"docker.io/library/mirrortest@{image.ManifestDigest}"], record.RepoDigests);
        Assert.Equal(image.Id, manager.Find("mirrortest:1.0")?.Id);
    }

    [Fact]
    public async Task PullAsync_MirrorDown_FallsBackToUpstream()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("upstream", "yes").Build()).Build();
        await mirror.Pusher.PushAsync("fallback/app", "v1", image);
        var deadPort = LocalRegistry.FreePort();
        var options = new ImagesOptions
        {
            PullRetries = 1,
            Registries = { [mirror.Host] = new RegistryHostOptions { Mirrors = [$"http://127.0.0.1:{deadPort}"] } },
        };
        using var store = new ImageStore(output, options);
        var manager = store.Open();

        var record = await manager.PullAsync($"{mirror.Host}/fallback/app:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        Assert.Contains(store.Logger.Lines, l => l.Contains("[3005]", StringComparison.Ordinal) && l.Contains($"127.0.0.1:{deadPort}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PullAsync_AllEndpointsFail_ErrorNamesEach()
    {
        var deadMirror = LocalRegistry.FreePort();
        var deadUpstream = LocalRegistry.FreePort();
        var options = new ImagesOptions
        {
            PullRetries = 0,
            Registries = { [$"127.0.0.1:{deadUpstream}"] = new RegistryHostOptions { Mirrors = [$"http://127.0.0.1:{deadMirror}"] } },
        };
        using var store = new ImageStore(output, options);
        var manager = store.Open();

        var e = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync($"127.0.0.1:{deadUpstream}/x/y:v1", null, CancellationToken.None));

        Assert.Equal(ImageErrorKind.Unavailable, e.Kind);
        Assert.Contains($"127.0.0.1:{deadMirror}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{deadUpstream}", e.Message, StringComparison.Ordinal);
        Assert.Contains("x/y:v1", e.Message, StringComparison.Ordinal);
    }
}

public sealed class BasicAuthTests(BasicAuthRegistryFixture registry, ITestOutputHelper output) : IClassFixture<BasicAuthRegistryFixture>
{
    [Fact]
    public async Task PullAsync_ConfiguredCredentials_Succeeds()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("secret", "basic").Build()).Build();
        await registry.Pusher.PushAsync("private/app", "v1", image);
        var options = new ImagesOptions
        {
            Registries = { [registry.Host] = new RegistryHostOptions { Username = BasicAuthRegistryFixture.User, Password = BasicAuthRegistryFixture.Secret } },
        };
        using var store = new ImageStore(output, options);

        var record = await store.Open().PullAsync($"{registry.Host}/private/app:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
    }

    [Fact]
    public async Task PullAsync_CriAuthField_Succeeds()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("secret", "cri auth").Build()).Build();
        await registry.Pusher.PushAsync("private/cri", "v1", image);
        using var store = new ImageStore(output);
        var auth = new RegistryAuth { Auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{BasicAuthRegistryFixture.User}:{BasicAuthRegistryFixture.Secret}")) };

        var record = await store.Open().PullAsync($"{registry.Host}/private/cri:v1", auth, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
    }

    [Fact]
    public async Task PullAsync_NoOrWrongCredentials_Unauthenticated()
    {
        await registry.Pusher.PushAsync("private/denied", "v1", new OciImageBuilder(new LayerBuilder().File("x", "y").Build()).Build());
        using var store = new ImageStore(output);
        var manager = store.Open();
        var reference = $"{registry.Host}/private/denied:v1";

        var none = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync(reference, null, CancellationToken.None));
        var wrong = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync(reference, new RegistryAuth { Username = "puller", Password = "wrong" }, CancellationToken.None));

        Assert.Equal(ImageErrorKind.Unauthenticated, none.Kind);
        Assert.Contains(registry.Host, none.Message, StringComparison.Ordinal);
        Assert.Equal(ImageErrorKind.Unauthenticated, wrong.Kind);
        Assert.Empty(manager.List());
    }
}

public sealed class TokenAuthTests(RegistryFixture registry, ITestOutputHelper output) : IClassFixture<RegistryFixture>
{
    [Fact]
    public async Task PullAsync_AnonymousBearer_GetsTokenOnceAndPulls()
    {
        var image = BusyboxImage.Build();
        await registry.Pusher.PushAsync("token/anon", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.Token = new TokenPolicy(null, null, null);
        using var store = new ImageStore(output);

        var record = await store.Open().PullAsync($"{proxy.Host}/token/anon:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
        Assert.Equal(1, proxy.TokenRequests);
    }

    [Fact]
    public async Task PullAsync_BearerWithPassword_RightAndWrongCredentials()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("t", "pw").Build()).Build();
        await registry.Pusher.PushAsync("token/pw", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.Token = new TokenPolicy("alice", "wonder", null);
        using var store = new ImageStore(output);
        var manager = store.Open();
        var reference = $"{proxy.Host}/token/pw:v1";

        var wrong = await Assert.ThrowsAsync<ImageException>(() => manager.PullAsync(reference, new RegistryAuth { Username = "alice", Password = "nope" }, CancellationToken.None));
        var record = await manager.PullAsync(reference, new RegistryAuth { Username = "alice", Password = "wonder" }, CancellationToken.None);

        Assert.Equal(ImageErrorKind.Unauthenticated, wrong.Kind);
        Assert.Contains("token server", wrong.Message, StringComparison.Ordinal);
        Assert.Equal(image.Id, record.Id);
    }

    [Fact]
    public async Task PullAsync_IdentityTokenFromConfig_TradedForAccessToken()
    {
        var image = new OciImageBuilder(new LayerBuilder().File("t", "identity").Build()).Build();
        await registry.Pusher.PushAsync("token/identity", "v1", image);
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.Token = new TokenPolicy("someone", "unused", "refresh-123");
        var options = new ImagesOptions { Registries = { [proxy.Host] = new RegistryHostOptions { IdentityToken = "refresh-123" } } };
        using var store = new ImageStore(output, options);

        var record = await store.Open().PullAsync($"{proxy.Host}/token/identity:v1", null, CancellationToken.None);

        Assert.Equal(image.Id, record.Id);
    }

    [Fact]
    public async Task PullAsync_RegistryTokenFromCri_UsedAsBearerWithoutTokenServer()
    {
        await registry.Pusher.PushAsync("token/direct", "v1", new OciImageBuilder(new LayerBuilder().File("t", "direct").Build()).Build());
        await using var proxy = await RegistryProxy.StartAsync(registry.Url);
        proxy.Token = new TokenPolicy("bob", "pw", null);
        using var store = new ImageStore(output);

        // The proxy does not know this token: the registry keeps answering 401, which must surface as Unauthenticated.
        var e = await Assert.ThrowsAsync<ImageException>(() => store.Open().PullAsync(
            $"{proxy.Host}/token/direct:v1", new RegistryAuth { RegistryToken = "not-issued" }, CancellationToken.None));

        Assert.Equal(ImageErrorKind.Unauthenticated, e.Kind);
        Assert.Equal(0, proxy.TokenRequests);
    }
}
