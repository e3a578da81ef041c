using Microsoft.Extensions.Logging;

namespace LightVM.Cri.Configuration;

/// <summary>Logging and tracing. TOML section <c>[telemetry]</c>.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Minimum level of the daemon's log.</summary>
    public LogLevel LogLevel { get; set; } = LogLevel.Information;

    /// <summary>Where OpenTelemetry spans go: nowhere (the default, and then tracing costs nothing), the console, or OTLP.</summary>
    public TraceExporter Exporter { get; set; } = TraceExporter.None;

    /// <summary>The OTLP collector endpoint when <see cref="Exporter"/> is <c>otlp</c>.</summary>
    public string OtlpEndpoint { get; set; } = "http://127.0.0.1:4317";

    /// <summary>The service name spans carry.</summary>
    public string ServiceName { get; set; } = "lightvm-cri";

    internal IEnumerable<string> Validate(string prefix)
    {
        if (Exporter == TraceExporter.Otlp &&
            (!Uri.TryCreate(OtlpEndpoint, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https")))
        {
            yield return $"{prefix}.otlp_endpoint: must be an http(s) URL, got \"{OtlpEndpoint}\"";
        }

        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            yield return $"{prefix}.service_name: must not be empty";
        }
    }
}

/// <summary>Trace exporters.</summary>
public enum TraceExporter
{
    None,
    Console,
    Otlp,
}
