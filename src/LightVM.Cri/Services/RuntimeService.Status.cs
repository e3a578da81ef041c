using Grpc.Core;
using LightVM.Cri.Configuration;
using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

internal sealed partial class RuntimeService
{
    public override Task<V1.StatusResponse> Status(V1.StatusRequest request, ServerCallContext context)
    {
        var response = new V1.StatusResponse { Status = new V1.RuntimeStatus() };
        foreach (var condition in _conditions.Evaluate())
        {
            response.Status.Conditions.Add(new V1.RuntimeCondition
            {
                Type = condition.Type,
                Status = condition.Status,
                Reason = condition.Reason,
                Message = condition.Message,
            });
        }

        // One handler, the default: kubelet passes an empty runtime_handler for pods without a RuntimeClass.
        response.RuntimeHandlers.Add(new V1.RuntimeHandler
        {
            Name = string.Empty,
            Features = new V1.RuntimeHandlerFeatures { RecursiveReadOnlyMounts = false, UserNamespaces = false },
        });
        response.Features = new V1.RuntimeFeatures { SupplementalGroupsPolicy = false };

        if (request.Verbose)
        {
            response.Info.Add("config", EffectiveConfig.ToJson(_config));
            response.Info.Add("podCIDR", _nodeSettings.PodCidr);
            response.Info.Add("pool", System.Text.Json.JsonSerializer.Serialize(new
            {
                enabled = _pool.Enabled,
                shapes = _pool.GetCounters().Select(c => new
                {
                    shape = c.Shape.ToString(),
                    vcpus = c.Shape.Vcpus,
                    memoryMib = c.Shape.MemoryMib,
                    target = c.Target,
                    ready = c.Ready,
                    refilling = c.Refilling,
                    hits = c.Hits,
                    misses = c.Misses,
                    refillFailures = c.RefillFailures,
                    lastRefillError = c.LastRefillError,
                }),
            }));
        }

        return Task.FromResult(response);
    }
}
