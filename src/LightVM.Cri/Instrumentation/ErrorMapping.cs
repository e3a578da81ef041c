using Grpc.Core;
using LightVM.Agent.Protocol;
using LightVM.Images;
using LightVM.Runtime;
using LightVM.State;
using LightVM.Toolstack;

namespace LightVM.Cri.Instrumentation;

/// <summary>
/// Turns the areas' exceptions into gRPC statuses. Handlers and areas throw plain domain errors; this is the only
/// place that knows both sides.
/// </summary>
internal static class ErrorMapping
{
    /// <summary>The status for <paramref name="exception"/>, or null when it is not a known domain error.</summary>
    public static Status? ToStatus(Exception exception, CancellationToken callCancelled) => exception switch
    {
        RpcException rpc => rpc.Status,
        StateException state => new Status(state.Kind switch
        {
            StateErrorKind.AlreadyExists => StatusCode.AlreadyExists,
            StateErrorKind.NotFound => StatusCode.NotFound,
            _ => StatusCode.Internal,
        }, state.Message),
        ImageException image => new Status(image.Kind switch
        {
            ImageErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            ImageErrorKind.NotFound => StatusCode.NotFound,
            ImageErrorKind.AlreadyExists => StatusCode.AlreadyExists,
            ImageErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            ImageErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
            ImageErrorKind.Unavailable => StatusCode.Unavailable,
            ImageErrorKind.Unauthenticated => StatusCode.Unauthenticated,
            ImageErrorKind.PermissionDenied => StatusCode.PermissionDenied,
            _ => StatusCode.Internal,
        }, image.Message),
        RuntimeException runtime => new Status(runtime.Kind switch
        {
            RuntimeErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            RuntimeErrorKind.NotFound => StatusCode.NotFound,
            RuntimeErrorKind.AlreadyExists => StatusCode.AlreadyExists,
            RuntimeErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            RuntimeErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
            RuntimeErrorKind.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        }, runtime.Message),
        ToolstackException toolstack => new Status(toolstack.Kind switch
        {
            ToolstackErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            ToolstackErrorKind.NotFound => StatusCode.NotFound,
            ToolstackErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            ToolstackErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
            ToolstackErrorKind.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        }, toolstack.Message),
        AgentException agent => new Status(agent.Kind switch
        {
            AgentErrorKind.InvalidArgument => StatusCode.InvalidArgument,
            AgentErrorKind.NotFound => StatusCode.NotFound,
            AgentErrorKind.AlreadyExists => StatusCode.AlreadyExists,
            AgentErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
            AgentErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
            AgentErrorKind.Unavailable => StatusCode.Unavailable,
            _ => StatusCode.Internal,
        }, agent.Message),
        OperationCanceledException when callCancelled.IsCancellationRequested =>
            new Status(StatusCode.Cancelled, "the call was cancelled by the client"),
        TimeoutException timeout => new Status(StatusCode.DeadlineExceeded, timeout.Message),
        ArgumentException argument => new Status(StatusCode.InvalidArgument, argument.Message),
        _ => null,
    };
}
