using System.Text;

namespace LightVM.Runtime.Pods;

/// <summary>DNS settings kubelet gives a pod (PodSandboxConfig.dns_config).</summary>
public sealed record PodDns(IReadOnlyList<string> Servers, IReadOnlyList<string> Searches, IReadOnlyList<string> Options);

/// <summary>
/// The files every container of a pod shares, as containerd provides them: <c>/etc/resolv.conf</c> (from the pod's
/// DNS config, else the host's) and <c>/etc/hostname</c>. They live in the pod directory, which the VM already sees
/// as its share, so containers bind them from there: nothing more is mounted on the host.
/// </summary>
internal static class PodFiles
{
    public const string ResolvConf = "resolv.conf";
    public const string Hostname = "hostname";

    /// <summary>The container paths these files appear at, with their names in the pod directory.</summary>
    public static IReadOnlyList<(string ContainerPath, string FileName)> Mounts { get; } =
        [("/etc/resolv.conf", ResolvConf), ("/etc/hostname", Hostname)];

    public static void Write(string podDirectory, PodDns? dns, string hostname, string hostResolvConf)
    {
        var resolv = dns is { } d && (d.Servers.Count > 0 || d.Searches.Count > 0 || d.Options.Count > 0)
            ? Render(d)
            : File.Exists(hostResolvConf) ? File.ReadAllText(hostResolvConf) : null;
        if (resolv is not null)
        {
            File.WriteAllText(Path.Combine(podDirectory, ResolvConf), resolv);
        }

        if (!string.IsNullOrEmpty(hostname))
        {
            File.WriteAllText(Path.Combine(podDirectory, Hostname), hostname + "\n");
        }
    }

    internal static string Render(PodDns dns)
    {
        var text = new StringBuilder();
        if (dns.Searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', dns.Searches).Append('\n');
        }

        foreach (var server in dns.Servers)
        {
            text.Append("nameserver ").Append(server).Append('\n');
        }

        if (dns.Options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', dns.Options).Append('\n');
        }

        return text.ToString();
    }
}
