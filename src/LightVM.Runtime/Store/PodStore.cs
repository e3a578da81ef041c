using LightVM.State;
using LightVM.Toolstack;

namespace LightVM.Runtime.Store;

/// <summary>
/// Pod sandboxes. Metadata never changes after RunPodSandbox; <see cref="PodStatus"/> changes only through
/// <see cref="Update"/>, one transaction per change.
/// <code>
///   RunPodSandbox ──► (name reserved, VM claimed, share attached, agent mounted) ──► Ready
///        │ any step fails: undone in reverse order, no record                      │
///        ▼                                                                         │ StopPodSandbox
///      (nothing)                                                                   ▼
///                                            NotReady ──RemovePodSandbox──► (record, dirs removed)
/// </code>
/// </summary>
public sealed class PodStore
{
    private readonly RecordCollection<PodRecord> _records;

    public PodStore(StateStore store)
    {
        _records = store.GetCollection<PodRecord>("pods");
    }

    public PodRecord? Get(string id) => _records.Get(id);

    public IReadOnlyList<PodRecord> List() => _records.List();

    public void Insert(PodRecord record) => _records.Insert(record.Metadata.Id, record);

    public PodRecord Update(string id, Func<PodStatus, PodStatus> change) =>
        _records.Update(id, r => r with { Status = change(r.Status) });

    public bool Delete(string id) => _records.Delete(id);
}

public enum PodState
{
    Ready,
    NotReady,
}

/// <summary>What the pod was created with.</summary>
public sealed record PodMetadata(
    string Id,
    string Name,
    string Namespace,
    string Uid,
    uint Attempt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyDictionary<string, string> Annotations,
    string LogDirectory,
    string Hostname,
    string PodDirectory,
    DateTimeOffset CreatedAt);

/// <summary>The pod's changing part.</summary>
public sealed record PodStatus(PodState State, VmRecord? Vm, bool FromPool, TimeSpan ClaimDuration, string? NotReadyReason);

public sealed record PodRecord(PodMetadata Metadata, PodStatus Status);
