using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;

namespace LightVM.Cri.Configuration;

/// <summary>
/// Reads the configuration: defaults, then the TOML file, then command-line flags. Every key of the file can be
/// given as a flag with its dotted path: <c>--cri.listen=/run/x.sock</c>, <c>--pool.size 4</c>,
/// <c>--images.registries."docker.io".mirrors='["http://127.0.0.1:5000"]'</c>. A flag's value is read as a TOML
/// value when it is one (numbers, booleans, arrays, quoted strings) and as a plain string otherwise.
/// </summary>
internal static class ConfigLoader
{
    public const string DefaultConfigPath = "/etc/lightvm/config.toml";

    /// <summary>Loads and validates the configuration.</summary>
    /// <exception cref="ConfigException">Anything wrong, with every problem listed.</exception>
    public static LightVMConfig Load(
        string? configPath, IReadOnlyList<KeyValuePair<string, string>> flags, string defaultPath = DefaultConfigPath)
    {
        var path = configPath ?? defaultPath;
        var table = new TomlTable();
        if (File.Exists(path))
        {
            table = Parse(File.ReadAllText(path), path);
        }
        else if (configPath is not null)
        {
            throw new ConfigException($"config file {path} does not exist");
        }

        var errors = new List<string>();
        foreach (var (key, value) in flags)
        {
            try
            {
                Merge(table, ParseFlag(key, value), key);
            }
            catch (TomlException e)
            {
                errors.Add($"--{key}: {e.Message}");
            }
        }

        var config = new LightVMConfig();
        errors.AddRange(OptionsBinder.Bind(table, config, string.Empty));
        if (errors.Count == 0)
        {
            errors.AddRange(config.Validate());
        }

        if (errors.Count > 0)
        {
            var source = File.Exists(path) ? path : "the command line";
            throw new ConfigException($"invalid configuration ({source}):\n  " + string.Join("\n  ", errors));
        }

        return config;
    }

    /// <summary>Parses TOML text strictly: duplicate keys and tables are errors, reported with line and column.</summary>
    internal static TomlTable Parse(string text, string sourceName)
    {
        try
        {
            // ParseStrict checks what the model reader lets through, such as a key defined twice.
            SyntaxParser.ParseStrict(text, sourceName, true);
            return TomlSerializer.Deserialize<TomlTable>(text, new TomlSerializerOptions { SourceName = sourceName })
                ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new ConfigException($"config file {sourceName} is not valid TOML: {e.Message.Trim()}", e);
        }
    }

    private static TomlTable ParseFlag(string key, string value)
    {
        if (key.Length == 0 || key.StartsWith('.') || key.EndsWith('.'))
        {
            throw new ConfigException($"--{key}: not a config key");
        }

        try
        {
            return TomlSerializer.Deserialize<TomlTable>($"{key} = {value}") ?? new TomlTable();
        }
        catch (TomlException)
        {
            // Not a TOML value: take it as a string, so paths and words need no quoting on the command line.
            var quoted = "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
            return TomlSerializer.Deserialize<TomlTable>($"{key} = {quoted}") ?? new TomlTable();
        }
    }

    private static void Merge(TomlTable target, TomlTable source, string flag)
    {
        foreach (var (key, value) in source)
        {
            if (value is TomlTable sub && target.TryGetValue(key, out var existing) && existing is TomlTable existingTable)
            {
                Merge(existingTable, sub, flag);
            }
            else if (value is TomlTable && target.TryGetValue(key, out var scalar) && scalar is not TomlTable)
            {
                throw new ConfigException($"--{flag}: '{key}' is a value, not a table");
            }
            else
            {
                target[key] = value;
            }
        }
    }
}

/// <summary>The configuration is unusable; the message says every reason.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException()
    {
    }

    public ConfigException(string message)
        : base(message)
    {
    }

    public ConfigException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
