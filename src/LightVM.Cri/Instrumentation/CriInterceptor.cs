using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace LightVM.Cri.Instrumentation;

/// <summary>
/// Wraps every CRI call: readiness gate, one OpenTelemetry span, one log line with method, status code and
/// duration, and the mapping of domain exceptions to gRPC statuses. Handlers stay free of all of it.
/// </summary>
internal sealed class CriInterceptor : Interceptor
{
    /// <summary>Source of the per-RPC spans; listened to only when an exporter is configured.</summary>
    public static readonly ActivitySource Source = new("LightVM.Cri");

    // kubelet polls these every second or so; log them at debug level only.
    private static readonly HashSet<string> QuietMethods = new(StringComparer.Ordinal)
    {
        "Version", "Status", "ListPodSandbox", "ListContainers", "PodSandboxStatus", "ContainerStatus", "ListImages",
        "ImageStatus", "ImageFsInfo", "ListContainerStats", "ListPodSandboxStats", "ContainerStats", "PodSandboxStats",
        "RuntimeConfig", "ListMetricDescriptors", "ListPodSandboxMetrics",
    };

    private static readonly HashSet<string> AlwaysAllowed = new(StringComparer.Ordinal) { "Version", "Status" };

    private readonly ILogger<CriInterceptor> _logger;
    private readonly DaemonReadiness _readiness;
    private readonly InFlightCalls _inFlight;

    public CriInterceptor(ILogger<CriInterceptor> logger, DaemonReadiness readiness, InFlightCalls inFlight)
    {
        _logger = logger;
        _readiness = readiness;
        _inFlight = inFlight;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        Run(context, () => continuation(request, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        Run(context, async () =>
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return true;
        });

    private async Task<T> Run<T>(ServerCallContext context, Func<Task<T>> body)
    {
        var (service, method) = Split(context.Method);
        using var activity = Source.StartActivity($"{service}/{method}", ActivityKind.Server);
        activity?.SetTag("rpc.system", "grpc");
        activity?.SetTag("rpc.service", service);
        activity?.SetTag("rpc.method", method);
        var started = Stopwatch.GetTimestamp();
        using var call = _inFlight.Enter();
        try
        {
            if (!_readiness.IsReady && !AlwaysAllowed.Contains(method))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, $"lightvm is not ready yet: {_readiness.Phase}"));
            }

            var result = await body().ConfigureAwait(false);
            Done(activity, method, StatusCode.OK, started, null);
            return result;
        }
        catch (Exception e)
        {
            var status = ErrorMapping.ToStatus(e, context.CancellationToken);
            if (status is null)
            {
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                CriLog.RpcCrashed(_logger, context.Method, ms, e);
                activity?.SetStatus(ActivityStatusCode.Error, e.Message);
                activity?.SetTag("rpc.grpc.status_code", (int)StatusCode.Internal);
                throw new RpcException(new Status(StatusCode.Internal, $"{method}: {e.Message}"));
            }

            var final = status.Value;
            if (final.StatusCode == StatusCode.Unimplemented && string.IsNullOrEmpty(final.Detail))
            {
                // The generated base class answers UNIMPLEMENTED with no detail; name the call for the user.
                final = new Status(StatusCode.Unimplemented, $"{service}/{method} is not implemented by lightvm yet");
            }

            Done(activity, method, final.StatusCode, started, final.Detail);
            throw new RpcException(final);
        }
    }

    private void Done(Activity? activity, string method, StatusCode code, long started, string? detail)
    {
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        activity?.SetTag("rpc.grpc.status_code", (int)code);
        if (code == StatusCode.OK)
        {
            if (QuietMethods.Contains(method))
            {
                CriLog.RpcDoneDebug(_logger, method, code, ms);
            }
            else
            {
                CriLog.RpcDone(_logger, method, code, ms);
            }

            return;
        }

        activity?.SetStatus(ActivityStatusCode.Error, detail);
        CriLog.RpcFailed(_logger, method, code, ms, detail ?? string.Empty);
    }

    private static (string Service, string Method) Split(string fullMethod)
    {
        // "/runtime.v1.RuntimeService/Version"
        var slash = fullMethod.LastIndexOf('/');
        var service = fullMethod[1..slash];
        var dot = service.LastIndexOf('.');
        return (dot >= 0 ? service[(dot + 1)..] : service, fullMethod[(slash + 1)..]);
    }
}
