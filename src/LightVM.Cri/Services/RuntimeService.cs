using LightVM.Cri.Configuration;
using LightVM.Runtime;
using LightVM.Runtime.Pods;
using LightVM.Toolstack.Pool;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

/// <summary>
/// CRI RuntimeService. One partial file per RPC group (RuntimeService.Version.cs, .Status.cs, ...); handlers
/// validate, call the runtime and map the reply. RPCs not built yet fall through to the generated base, which
/// answers UNIMPLEMENTED; the interceptor names the RPC in that answer.
/// </summary>
internal sealed partial class RuntimeService : V1.RuntimeService.RuntimeServiceBase
{
    private readonly LightVMConfig _config;
    private readonly NodeSettings _nodeSettings;
    private readonly RuntimeConditions _conditions;
    private readonly PodManager _pods;
    private readonly WarmPool _pool;

    public RuntimeService(LightVMConfig config, NodeSettings nodeSettings, RuntimeConditions conditions, PodManager pods, WarmPool pool)
    {
        _config = config;
        _nodeSettings = nodeSettings;
        _conditions = conditions;
        _pods = pods;
        _pool = pool;
    }
}
