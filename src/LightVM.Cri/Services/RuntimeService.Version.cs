using Grpc.Core;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

internal sealed partial class RuntimeService
{
    /// <summary>The CRI API version this runtime speaks.</summary>
    public const string ApiVersion = "v1";

    /// <summary>The name kubelet and crictl show.</summary>
    public const string RuntimeName = "lightvm";

    public override Task<V1.VersionResponse> Version(V1.VersionRequest request, ServerCallContext context) =>
        Task.FromResult(new V1.VersionResponse
        {
            // "version" is the version of the kubelet-runtime API, fixed at 0.1.0 by every CRI runtime.
            Version = "0.1.0",
            RuntimeName = RuntimeName,
            RuntimeVersion = ProductVersion.Value,
            RuntimeApiVersion = ApiVersion,
        });
}
