namespace LightVM.Cri.Hosting;

/// <summary>What the command line asked for.</summary>
internal sealed record CommandLine(
    string? ConfigPath,
    IReadOnlyList<KeyValuePair<string, string>> Settings,
    bool Help,
    bool Version,
    bool PrintConfig)
{
    public const string Usage = """
        Usage: lightvm-cri [--config PATH] [--SECTION.KEY=VALUE ...] [--print-config] [--version] [--help]

        Serves the Kubernetes CRI (runtime.v1 RuntimeService and ImageService) on a unix socket and runs every pod
        as a lightweight VM.

          --config PATH        TOML configuration file (default /etc/lightvm/config.toml; optional when absent)
          --SECTION.KEY VALUE  set any configuration key, overriding the file, e.g. --cri.listen=/tmp/l.sock
          --print-config       print the effective configuration as JSON and exit
          --version            print the version and exit
          --help               print this text and exit

        Sections: cri, state, images, toolstack, pool, network, telemetry. See --print-config for every key.
        """;

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">An argument that is not an option.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        string? config = null;
        var settings = new List<KeyValuePair<string, string>>();
        bool help = false, version = false, print = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ArgumentException($"unexpected argument '{arg}' (options start with --; see --help)");
            }

            var body = arg[2..];
            string name;
            string? value = null;
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                name = body[..eq];
                value = body[(eq + 1)..];
            }
            else
            {
                name = body;
            }

            switch (name)
            {
                case "help" or "h":
                    help = true;
                    continue;
                case "version":
                    version = true;
                    continue;
                case "print-config":
                    print = true;
                    continue;
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"option --{name} needs a value");
                }

                value = args[++i];
            }

            if (name == "config")
            {
                config = value;
            }
            else if (name.Contains('.', StringComparison.Ordinal))
            {
                settings.Add(new(name, value));
            }
            else
            {
                throw new ArgumentException($"unknown option --{name} (configuration keys are --section.key; see --help)");
            }
        }

        return new CommandLine(config, settings, help, version, print);
    }
}
