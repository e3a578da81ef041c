using System.Text;
using LightVM.Agent.Protocol;

namespace LightVM.Agent.Processes;

/// <summary>
/// What lightvm-exec should set up before exec, encoded as the "key=value\0" records that native/lightvm-exec.c
/// parses. Values travel verbatim, so they only have to be free of NUL (and of 0x1f inside mount fields).
/// </summary>
internal sealed class ExecSpec
{
    /// <summary>The helper refuses larger specs; the agent checks first to give a clear error.</summary>
    public const int MaxBytes = 1 << 20;

    private readonly StringBuilder _records = new();

    /// <summary>
    /// A spec that creates a container (new namespaces, rootfs, mounts). With <paramref name="podShm"/> (in a pod VM:
    /// the guest's /dev/shm) the container keeps the VM's IPC namespace and binds that directory at /dev/shm, so the
    /// containers of a pod share IPC as Kubernetes expects; without it each container gets its own.
    /// </summary>
    public static ExecSpec Create(string rootfs, bool noPivot, bool readonlyRootfs, string hostname, string? podShm = null)
    {
        var spec = new ExecSpec();
        spec.Add("mode", "create");
        spec.Add("rootfs", rootfs);
        spec.Add("no_pivot", noPivot ? "1" : "0");
        spec.Add("readonly_rootfs", readonlyRootfs ? "1" : "0");
        spec.Add("hostname", hostname);
        if (podShm is not null)
        {
            spec.Add("pod_shm", podShm);
        }

        return spec;
    }

    /// <summary>A spec that runs a process inside the running container whose main process is <paramref name="pid"/>.</summary>
    public static ExecSpec Join(int pid)
    {
        var spec = new ExecSpec();
        spec.Add("mode", "join");
        spec.Add("join_pid", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return spec;
    }

    public ExecSpec Identity(uint uid, uint gid, IEnumerable<uint> groups)
    {
        Add("uid", uid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Add("gid", gid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var group in groups)
        {
            Add("group", group.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return this;
    }

    public ExecSpec Cgroup(string? path)
    {
        if (path is not null)
        {
            Add("cgroup", path);
        }

        return this;
    }

    public ExecSpec Command(IEnumerable<string> args, IEnumerable<string> env, string cwd)
    {
        var count = 0;
        foreach (var arg in args)
        {
            Add("arg", arg);
            count++;
        }

        if (count == 0)
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, "no command given (args is empty)");
        }

        foreach (var variable in env)
        {
            if (!variable.Contains('=', StringComparison.Ordinal))
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"environment entry \"{variable}\" is not KEY=VALUE");
            }

            Add("env", variable);
        }

        Add("cwd", cwd);
        return this;
    }

    public ExecSpec Mount(string source, string target, string fstype, bool bind, bool readOnly, string options)
    {
        foreach (var (name, value) in new[] { ("source", source), ("target", target), ("fstype", fstype), ("options", options) })
        {
            if (value.Contains('\x1f', StringComparison.Ordinal))
            {
                throw new AgentException(AgentErrorKind.InvalidArgument, $"mount {name} \"{value}\" contains a control character");
            }
        }

        var flags = (bind ? "b" : string.Empty) + (readOnly ? "r" : string.Empty);
        Add("mount", $"{source}\x1f{target}\x1f{fstype}\x1f{flags}\x1f{options}");
        return this;
    }

    public byte[] Encode()
    {
        var bytes = Encoding.UTF8.GetBytes(_records.ToString());
        if (bytes.Length > MaxBytes)
        {
            throw new AgentException(
                AgentErrorKind.InvalidArgument, $"the process spec is {bytes.Length} bytes; arguments and environment must stay under {MaxBytes}");
        }

        return bytes;
    }

    private void Add(string key, string value)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new AgentException(AgentErrorKind.InvalidArgument, $"{key} \"{value.Replace("\0", "\\0", StringComparison.Ordinal)}\" contains a NUL byte");
        }

        _records.Append(key).Append('=').Append(value).Append('\0');
    }
}
