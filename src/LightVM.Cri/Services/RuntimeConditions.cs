using LightVM.Cri.Instrumentation;

namespace LightVM.Cri.Services;

/// <summary>One CRI runtime condition.</summary>
internal sealed record Condition(string Type, bool Status, string Reason, string Message);

/// <summary>A part of the runtime that must work for pods to run (the VM backend, the guest image...).</summary>
public interface IReadinessCheck
{
    /// <summary>Short name used in messages.</summary>
    string Name { get; }

    /// <summary>Null when ready; otherwise a CamelCase reason and a human message.</summary>
    (string Reason, string Message)? Check();
}

/// <summary>
/// Computes the RuntimeReady and NetworkReady conditions kubelet reads from Status. RuntimeReady is true only when
/// the daemon has started and every registered check passes; a false condition carries the first failing check's
/// reason and all their messages.
/// </summary>
internal sealed class RuntimeConditions
{
    public const string RuntimeReady = "RuntimeReady";
    public const string NetworkReady = "NetworkReady";

    private readonly DaemonReadiness _readiness;
    private readonly IEnumerable<IReadinessCheck> _checks;

    public RuntimeConditions(DaemonReadiness readiness, IEnumerable<IReadinessCheck> checks)
    {
        _readiness = readiness;
        _checks = checks;
    }

    public IReadOnlyList<Condition> Evaluate()
    {
        Condition runtime;
        if (!_readiness.IsReady)
        {
            runtime = new Condition(RuntimeReady, false, "RuntimeStarting", $"lightvm is starting: {_readiness.Phase}");
        }
        else
        {
            var failures = _checks.Select(c => (c.Name, Result: c.Check())).Where(r => r.Result is not null).ToList();
            runtime = failures.Count == 0
                ? new Condition(RuntimeReady, true, string.Empty, string.Empty)
                : new Condition(RuntimeReady, false, failures[0].Result!.Value.Reason,
                    string.Join("; ", failures.Select(f => $"{f.Name}: {f.Result!.Value.Message}")));
        }

        // Pod networking (CNI into the VM) is a later issue: say so rather than pretend.
        var network = new Condition(NetworkReady, false, "NetworkPluginNotReady",
            "pod networking (CNI into the pod VM) is not implemented in lightvm yet; pods run without a network interface");
        return [runtime, network];
    }
}
