using Grpc.Core;
using LightVM.Cri.Configuration;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

internal sealed partial class RuntimeService
{
    public override Task<V1.RuntimeConfigResponse> RuntimeConfig(V1.RuntimeConfigRequest request, ServerCallContext context)
    {
        var driver = _config.Cri.CgroupDriver switch
        {
            CgroupDriverChoice.Systemd => V1.CgroupDriver.Systemd,
            CgroupDriverChoice.Cgroupfs => V1.CgroupDriver.Cgroupfs,
            // systemd as PID 1 means kubelet should use the systemd driver, as containerd's default detection does.
            _ => Directory.Exists("/run/systemd/system") ? V1.CgroupDriver.Systemd : V1.CgroupDriver.Cgroupfs,
        };
        return Task.FromResult(new V1.RuntimeConfigResponse
        {
            Linux = new V1.LinuxRuntimeConfiguration { CgroupDriver = driver },
        });
    }

    public override Task<V1.UpdateRuntimeConfigResponse> UpdateRuntimeConfig(
        V1.UpdateRuntimeConfigRequest request, ServerCallContext context)
    {
        _nodeSettings.SetPodCidr(request.RuntimeConfig?.NetworkConfig?.PodCidr ?? string.Empty);
        return Task.FromResult(new V1.UpdateRuntimeConfigResponse());
    }
}
