using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LightVM.Cri.Configuration;

/// <summary>The configuration as JSON with TOML's key names, secrets redacted: for Status verbose and --print-config.</summary>
internal static class EffectiveConfig
{
    private static readonly HashSet<string> SecretKeys = new(StringComparer.Ordinal)
    {
        "password", "identity_token", "registry_token", "auth", "token",
    };

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string ToJson(LightVMConfig config)
    {
        var node = JsonSerializer.SerializeToNode(config, Json)!;
        Redact(node);
        return node.ToJsonString(Json);
    }

    private static void Redact(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToList())
                {
                    if (SecretKeys.Contains(key) && obj[key] is JsonValue v && v.ToString().Length > 0)
                    {
                        obj[key] = "<redacted>";
                    }
                    else if (obj[key] is { } child)
                    {
                        Redact(child);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        Redact(item);
                    }
                }

                break;
        }
    }
}
