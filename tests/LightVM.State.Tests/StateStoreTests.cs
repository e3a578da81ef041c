namespace LightVM.State.Tests;

public sealed record Pod(string Name, string State, int Restarts);

public sealed class StateStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lvstate").FullName;

    private string DbPath => Path.Combine(_dir, "sub", "state.db");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Insert_ThenReopen_RecordIsThere()
    {
        using (var store = StateStore.Open(DbPath))
        {
            store.GetCollection<Pod>("pods").Insert("p1", new Pod("web", "ready", 0));
        }

        using var reopened = StateStore.Open(DbPath);
        Assert.Equal(new Pod("web", "ready", 0), reopened.GetCollection<Pod>("pods").Get("p1"));
    }

    [Fact]
    public void Insert_DuplicateId_AlreadyExistsAndOriginalKept()
    {
        using var store = StateStore.Open(DbPath);
        var pods = store.GetCollection<Pod>("pods");
        pods.Insert("p1", new Pod("web", "ready", 0));

        var e = Assert.Throws<StateException>(() => pods.Insert("p1", new Pod("other", "ready", 0)));

        Assert.Equal(StateErrorKind.AlreadyExists, e.Kind);
        Assert.Equal("web", pods.Get("p1")!.Name);
    }

    [Fact]
    public void Update_Missing_NotFound()
    {
        using var store = StateStore.Open(DbPath);

        var e = Assert.Throws<StateException>(() => store.GetCollection<Pod>("pods").Update("nope", p => p));

        Assert.Equal(StateErrorKind.NotFound, e.Kind);
    }

    [Fact]
    public void Update_ChangeThrows_NothingStored()
    {
        using var store = StateStore.Open(DbPath);
        var pods = store.GetCollection<Pod>("pods");
        pods.Insert("p1", new Pod("web", "ready", 0));

        Assert.Throws<InvalidOperationException>(() => pods.Update("p1", _ => throw new InvalidOperationException("no")));

        Assert.Equal(new Pod("web", "ready", 0), pods.Get("p1"));
    }

    [Fact]
    public async Task Update_Concurrent_NoLostUpdates()
    {
        using var store = StateStore.Open(DbPath);
        var pods = store.GetCollection<Pod>("pods");
        pods.Insert("p1", new Pod("web", "ready", 0));

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 50; i++)
            {
                pods.Update("p1", p => p with { Restarts = p.Restarts + 1 });
            }
        })));

        Assert.Equal(400, pods.Get("p1")!.Restarts);
    }

    [Fact]
    public void Delete_Twice_SecondReturnsFalse()
    {
        using var store = StateStore.Open(DbPath);
        var pods = store.GetCollection<Pod>("pods");
        pods.Put("p1", new Pod("web", "ready", 0));

        Assert.True(pods.Delete("p1"));
        Assert.False(pods.Delete("p1"));
        Assert.Empty(pods.List());
    }

    [Fact]
    public void Open_NotADatabase_ClearError()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DbPath)!);
        File.WriteAllText(DbPath, new string('x', 8192));

        var e = Assert.Throws<StateException>(() => StateStore.Open(DbPath));

        Assert.Contains(DbPath, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetCollection_BadName_Refused()
    {
        using var store = StateStore.Open(DbPath);

        Assert.Throws<ArgumentException>(() => store.GetCollection<Pod>("pods; DROP TABLE x"));
    }
}
