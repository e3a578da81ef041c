using LightVM.Images;
using LightVM.State;
using LightVM.Toolstack;

namespace LightVM.Cri.Configuration;

/// <summary>
/// The whole configuration: one section per area. Built once at start from defaults, the TOML file and the
/// command line, validated, then treated as read-only.
/// </summary>
public sealed class LightVMConfig
{
    public CriOptions Cri { get; set; } = new();

    public StateOptions State { get; set; } = new();

    public ImagesOptions Images { get; set; } = new();

    public ToolstackOptions Toolstack { get; set; } = new();

    public PoolOptions Pool { get; set; } = new();

    public NetworkOptions Network { get; set; } = new();

    public TelemetryOptions Telemetry { get; set; } = new();

    /// <summary>Every problem of the configuration, one message each, naming the key.</summary>
    public IEnumerable<string> Validate() =>
        Cri.Validate("cri")
            .Concat(State.Validate("state"))
            .Concat(Images.Validate("images"))
            .Concat(Toolstack.Validate("toolstack"))
            .Concat(Pool.Validate("pool"))
            .Concat(NetworkOptions.Validate("network"))
            .Concat(Telemetry.Validate("telemetry"));
}
