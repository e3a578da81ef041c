using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using Tomlyn.Model;

namespace LightVM.Cri.Configuration;

/// <summary>
/// Binds a parsed TOML table onto an options object by reflection: a TOML key is the snake_case form of a public
/// settable property (<c>max_concurrent_downloads</c> ↔ <c>MaxConcurrentDownloads</c>). Anything it cannot place —
/// an unknown key, a value of the wrong type, a number out of range — becomes one message naming the full key,
/// and binding goes on, so a user sees every mistake of a config file at once.
/// </summary>
internal static class OptionsBinder
{
    /// <summary>Binds <paramref name="table"/> onto <paramref name="target"/>; returns the problems found.</summary>
    public static List<string> Bind(TomlTable table, object target, string prefix)
    {
        var errors = new List<string>();
        BindObject(table, target, prefix, errors);
        return errors;
    }

    /// <summary>The TOML key for a property name.</summary>
    public static string KeyOf(string propertyName)
    {
        var sb = new StringBuilder(propertyName.Length + 4);
        for (var i = 0; i < propertyName.Length; i++)
        {
            var c = propertyName[i];
            if (char.IsUpper(c))
            {
                var previousIsLower = i > 0 && !char.IsUpper(propertyName[i - 1]);
                var nextIsLower = i + 1 < propertyName.Length && char.IsLower(propertyName[i + 1]);
                if (i > 0 && (previousIsLower || nextIsLower))
                {
                    sb.Append('_');
                }

                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>The settable properties of <paramref name="type"/> by TOML key.</summary>
    public static Dictionary<string, PropertyInfo> KeysOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0)
            .ToDictionary(p => KeyOf(p.Name), StringComparer.Ordinal);

    private static void BindObject(TomlTable table, object target, string prefix, List<string> errors)
    {
        var properties = KeysOf(target.GetType());
        foreach (var (key, value) in table)
        {
            var path = Join(prefix, key);
            if (!properties.TryGetValue(key, out var property))
            {
                var known = properties.Keys.Order(StringComparer.Ordinal).ToList();
                errors.Add(known.Count == 0
                    ? $"{path}: unknown key (section '{prefix}' has no keys yet)"
                    : $"{path}: unknown key (known keys: {string.Join(", ", known)})");
                continue;
            }

            if (TryConvert(value, property.PropertyType, path, property.GetValue(target), errors, out var converted))
            {
                property.SetValue(target, converted);
            }
        }
    }

    private static bool TryConvert(object? value, Type type, string path, object? existing, List<string> errors, out object? result)
    {
        result = null;
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        switch (value)
        {
            case null:
                errors.Add($"{path}: a value is required");
                return false;
            case string s when underlying == typeof(string):
                result = s;
                return true;
            case string s when underlying.IsEnum:
                var name = s.Replace("-", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal);
                if (Enum.TryParse(underlying, name, ignoreCase: true, out var e) && Enum.IsDefined(underlying, e!))
                {
                    result = e;
                    return true;
                }

                var choices = string.Join(", ", Enum.GetNames(underlying).Select(KeyOf).Select(n => $"\"{n}\""));
                errors.Add($"{path}: \"{s}\" is not one of {choices}");
                return false;
            case bool b when underlying == typeof(bool):
                result = b;
                return true;
            case long l when underlying == typeof(long):
                result = l;
                return true;
            case long l when underlying == typeof(int):
                if (l is < int.MinValue or > int.MaxValue)
                {
                    errors.Add($"{path}: {l} is out of range");
                    return false;
                }

                result = (int)l;
                return true;
            case long l when underlying == typeof(double):
                result = (double)l;
                return true;
            case double d when underlying == typeof(double):
                result = d;
                return true;
            case TomlArray array when IsList(underlying, out var elementType):
                var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(elementType))!;
                var ok = true;
                for (var i = 0; i < array.Count; i++)
                {
                    if (TryConvert(array[i], elementType, $"{path}[{i}]", null, errors, out var item))
                    {
                        list.Add(item);
                    }
                    else
                    {
                        ok = false;
                    }
                }

                result = list;
                return ok;
            case TomlTable table when IsStringDictionary(underlying, out var valueType):
                var dict = (IDictionary)(existing ?? Activator.CreateInstance(underlying)!);
                var allOk = true;
                foreach (var (key, item) in table)
                {
                    var itemPath = $"{path}.\"{key}\"";
                    var current = dict.Contains(key) ? dict[key] : null;
                    if (item is TomlTable && IsOptionsClass(valueType))
                    {
                        current ??= Activator.CreateInstance(valueType)!;
                        BindObject((TomlTable)item, current, itemPath, errors);
                        dict[key] = current;
                    }
                    else if (TryConvert(item, valueType, itemPath, current, errors, out var converted))
                    {
                        dict[key] = converted;
                    }
                    else
                    {
                        allOk = false;
                    }
                }

                result = dict;
                return allOk;
            case TomlTable table when IsOptionsClass(underlying):
                var target = existing ?? Activator.CreateInstance(underlying)!;
                BindObject(table, target, path, errors);
                result = target;
                return true;
            default:
                errors.Add($"{path}: expected {Describe(underlying)}, got {DescribeValue(value)}");
                return false;
        }
    }

    private static bool IsList(Type type, out Type elementType)
    {
        elementType = typeof(object);
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            elementType = type.GetGenericArguments()[0];
            return true;
        }

        return false;
    }

    private static bool IsStringDictionary(Type type, out Type valueType)
    {
        valueType = typeof(object);
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(Dictionary<,>) &&
            type.GetGenericArguments()[0] == typeof(string))
        {
            valueType = type.GetGenericArguments()[1];
            return true;
        }

        return false;
    }

    private static bool IsOptionsClass(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type);

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(string) => "a string",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(double) => "a number",
        _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type).Select(KeyOf).Select(n => $"\"{n}\"")),
        _ when IsList(type, out var e) => $"an array ({Describe(e)} each)",
        _ => "a table",
    };

    private static string DescribeValue(object value) => value switch
    {
        string s => $"the string \"{s}\"",
        bool b => b ? "true" : "false",
        long l => $"the integer {l.ToString(CultureInfo.InvariantCulture)}",
        double d => $"the number {d.ToString(CultureInfo.InvariantCulture)}",
        TomlArray => "an array",
        TomlTable => "a table",
        _ => $"a {value.GetType().Name}",
    };

    private static string Join(string prefix, string key) => prefix.Length == 0 ? key : $"{prefix}.{key}";
}
