using System.Net;
using LightVM.State;

namespace LightVM.Runtime;

/// <summary>
/// Node-wide settings kubelet hands the runtime (UpdateRuntimeConfig): today the pod CIDR, which the network
/// plugin will use. Persisted, so a restarted daemon knows it before kubelet says it again.
/// </summary>
public sealed class NodeSettings
{
    private const string RecordId = "node";
    private readonly RecordCollection<NodeSettingsRecord> _records;

    public NodeSettings(StateStore store)
    {
        _records = store.GetCollection<NodeSettingsRecord>("node_settings");
    }

    /// <summary>The pod CIDR(s) kubelet gave, comma-separated for dual stack; empty until it gives one.</summary>
    public string PodCidr => _records.Get(RecordId)?.PodCidr ?? string.Empty;

    /// <summary>Stores the pod CIDR. An empty value leaves the stored one unchanged, as containerd does.</summary>
    /// <exception cref="RuntimeException">InvalidArgument when a part is not a CIDR.</exception>
    public void SetPodCidr(string podCidr)
    {
        if (string.IsNullOrWhiteSpace(podCidr))
        {
            return;
        }

        foreach (var part in podCidr.Split(','))
        {
            if (!IPNetwork.TryParse(part.Trim(), out _))
            {
                throw new RuntimeException(RuntimeErrorKind.InvalidArgument, $"pod CIDR '{part.Trim()}' is not a valid CIDR (e.g. 10.244.0.0/24)");
            }
        }

        _records.Put(RecordId, new NodeSettingsRecord(podCidr.Trim()));
    }
}

/// <summary>The stored node settings.</summary>
public sealed record NodeSettingsRecord(string PodCidr);
