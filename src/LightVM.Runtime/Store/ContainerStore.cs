using LightVM.State;

namespace LightVM.Runtime.Store;

/// <summary>
/// Containers. Metadata is fixed at CreateContainer; <see cref="ContainerStatus"/> changes only through
/// <see cref="Update"/>.
/// <code>
///   CreateContainer ──► Created ──StartContainer──► Running ──exit / StopContainer──► Exited
///                          │                                                            │
///                          └──────────────── RemoveContainer (any state) ◄──────────────┘
/// </code>
/// A container whose pod stops is marked Exited (SIGKILLed with the VM) at that moment.
/// </summary>
public sealed class ContainerStore
{
    private readonly RecordCollection<ContainerRecord> _records;

    public ContainerStore(StateStore store)
    {
        _records = store.GetCollection<ContainerRecord>("containers");
    }

    public ContainerRecord? Get(string id) => _records.Get(id);

    public IReadOnlyList<ContainerRecord> List() => _records.List();

    public IReadOnlyList<ContainerRecord> ListInPod(string podId) =>
        _records.List().Where(c => c.Metadata.PodId == podId).ToList();

    public void Insert(ContainerRecord record) => _records.Insert(record.Metadata.Id, record);

    public ContainerRecord Update(string id, Func<ContainerStatus, ContainerStatus> change) =>
        _records.Update(id, r => r with { Status = change(r.Status) });

    public bool Delete(string id) => _records.Delete(id);
}

public enum ContainerState
{
    Created,
    Running,
    Exited,
}

/// <summary>A host path shared into the container.</summary>
public sealed record MountSpec(string HostPath, string ContainerPath, bool ReadOnly);

public sealed record ContainerMetadata(
    string Id,
    string PodId,
    string Name,
    uint Attempt,
    string ImageRef,
    string ImageId,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    string LogPath,
    IReadOnlyList<string> Args,
    IReadOnlyList<string> Env,
    string WorkingDir,
    uint Uid,
    uint Gid,
    IReadOnlyList<MountSpec> Mounts,
    string Directory,
    DateTimeOffset CreatedAt,
    IReadOnlyList<uint>? AdditionalGids = null,
    bool ReadOnlyRootfs = false,
    uint StopSignal = 15);

/// <summary><see cref="Resources"/> are the limits in force (CreateContainer's, then each UpdateContainerResources merged in).</summary>
public sealed record ContainerStatus(
    ContainerState State,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    int ExitCode,
    string Reason,
    string Message,
    ContainerResources? Resources = null);

/// <summary>
/// A container's cgroup limits as the CRI gives them (LinuxContainerResources); 0 means unset. Applied inside the
/// VM to the container's cgroup v2. <see cref="Unified"/> holds raw cgroup v2 files and values.
/// </summary>
public sealed record ContainerResources(
    long CpuPeriod,
    long CpuQuota,
    long CpuShares,
    long MemoryLimitBytes,
    long MemorySwapLimitBytes,
    IReadOnlyDictionary<string, string> Unified)
{
    public static ContainerResources None { get; } = new(0, 0, 0, 0, 0, new Dictionary<string, string>());

    public bool IsEmpty => CpuPeriod == 0 && CpuQuota == 0 && CpuShares == 0 && MemoryLimitBytes == 0 && MemorySwapLimitBytes == 0 && Unified.Count == 0;
}

public sealed record ContainerRecord(ContainerMetadata Metadata, ContainerStatus Status);
