using LightVM.Cri.Configuration;
using LightVM.Cri.Instrumentation;
using LightVM.Cri.Services;
using LightVM.Images;
using LightVM.Runtime;
using LightVM.Runtime.Pods;
using LightVM.Runtime.Store;
using LightVM.Toolstack;
using LightVM.Toolstack.Pool;
using LightVM.State;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace LightVM.Cri.Hosting;

/// <summary>
/// Builds and runs the daemon: state lock, state store, CRI socket, gRPC services. Owns the order of start and
/// stop: on SIGTERM the host stops accepting calls, lets in-flight ones finish (up to the configured timeout),
/// then the store is closed and the socket removed.
/// </summary>
internal static class Daemon
{
    public static async Task<int> RunAsync(LightVMConfig config)
    {
        // SIGTERM/SIGINT during start-up (before the host installs its own handlers) must still stop us cleanly,
        // with the socket removed, rather than kill the process.
        using var stopRequested = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stopRequested.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        using var stateLock = StateLock.Acquire(config.State.LockPath);
        StateStore store;
        try
        {
            store = StateStore.Open(config.State.DatabasePath);
        }
        catch (StateException e)
        {
            throw new DaemonStartException(e.Message, e);
        }

        CriSocket socket;
        try
        {
            socket = CriSocket.Bind(config.Cri.Listen, CriOptions.ParseMode(config.Cri.SocketMode)!.Value, config.Cri.SocketGroup);
        }
        catch
        {
            store.Dispose();
            throw;
        }

        var app = Build(config, store, socket);
        var logger = app.Services.GetRequiredService<ILogger<CriInterceptor>>();
        try
        {
            var inFlight = app.Services.GetRequiredService<InFlightCalls>();
            app.Lifetime.ApplicationStopping.Register(() =>
                CriLog.ShuttingDown(logger, config.Cri.ShutdownTimeoutSeconds, inFlight.Count));

            using var stopOnSignal = stopRequested.Token.Register(() => app.Lifetime.StopApplication());
            try
            {
                await app.StartAsync(stopRequested.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopRequested.IsCancellationRequested)
            {
                return 0;
            }

            CriLog.Serving(logger, ProductVersion.Value, socket.Path, config.State.Root, Environment.ProcessId);
            if (config.Telemetry.Exporter != TraceExporter.None)
            {
                CriLog.TracingEnabled(logger, config.Telemetry.Exporter.ToString());
            }

            // Start-up work that must finish before pod calls are served (state reload, VM reconnection) goes here.
            var readiness = app.Services.GetRequiredService<DaemonReadiness>();
            readiness.Enter("recovering the image store");
            _ = app.Services.GetRequiredService<ImageManager>();
            CriLog.ComponentReady(logger, "images");
            readiness.Enter("loading pod state");
            readiness.Enter("recovering pod VMs");
            await app.Services.GetRequiredService<PodManager>().RecoverAsync(app.Lifetime.ApplicationStopping).ConfigureAwait(false);
            CriLog.ComponentReady(logger, "pods");
            readiness.SetReady();
            CriLog.ComponentReady(logger, "daemon");

            // Returns after SIGTERM/SIGINT once in-flight calls are done or the shutdown timeout has passed.
            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }
        finally
        {
            // Order matters: no more calls (host), then the state they wrote (store), then the door (socket).
            await app.DisposeAsync().ConfigureAwait(false);
            store.Dispose();
            socket.Dispose();
        }

        CriLog.Stopped(logger, socket.Path);
        return 0;
    }

    private static WebApplication Build(LightVMConfig config, StateStore store, CriSocket socket)
    {
        // No args: the command line was already read into the config; ASP.NET must not reinterpret it.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.SetMinimumLevel(config.Telemetry.LogLevel);
        // Keep ASP.NET's own per-request chatter out unless asked for: the interceptor logs every call.
        builder.Logging.AddFilter("Microsoft", config.Telemetry.LogLevel < LogLevel.Information ? config.Telemetry.LogLevel : LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(config.Cri.ShutdownTimeoutSeconds));

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenHandle(socket.DuplicateHandle(), listen => listen.Protocols = HttpProtocols.Http2);
            // CRI messages (ListContainers on a busy node, image lists) can exceed gRPC's 4 MiB default; kubelet
            // allows 16 MiB.
            kestrel.Limits.MaxRequestBodySize = null;
        });

        builder.Services.AddSingleton(config);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton<DaemonReadiness>();
        builder.Services.AddSingleton<InFlightCalls>();
        builder.Services.AddSingleton<NodeSettings>();
        builder.Services.AddSingleton(sp => new ImageManager(
            config.Images,
            string.IsNullOrEmpty(config.Images.Root) ? Path.Combine(config.State.Root, "images") : config.Images.Root,
            store,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("LightVM.Images")));
        builder.Services.AddSingleton<RuntimeConditions>();
        builder.Services.AddSingleton(config.Toolstack);
        builder.Services.AddSingleton<IReadinessCheck, GuestImageCheck>();
        // The pool is the VM source pods claim from; as a hosted service it fills in the background after start and
        // drains (stops its idle VMs) on shutdown. Pod VMs themselves outlive the daemon.
        builder.Services.AddSingleton(sp => VmBackends.CreatePooled(
            config.Toolstack, config.Pool, config.State.RunRoot, PodManager.GuestReady, sp.GetRequiredService<ILoggerFactory>(), PodManager.GuestWarmUp));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WarmPool>());
        builder.Services.AddSingleton(sp => new PodManager(
            sp.GetRequiredService<WarmPool>(),
            config.Toolstack,
            sp.GetRequiredService<ImageManager>(),
            new PodStore(store),
            new ContainerStore(store),
            new RuntimeSettings(config.State.Root, TimeSpan.FromSeconds(10)),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<WarmPool>().Foreground));
        builder.Services.AddGrpc(o =>
        {
            o.Interceptors.Add<CriInterceptor>();
            o.MaxReceiveMessageSize = 16 * 1024 * 1024;
            o.MaxSendMessageSize = 16 * 1024 * 1024;
            o.EnableDetailedErrors = false;
        });
        AddTracing(builder, config.Telemetry);

        var app = builder.Build();
        app.MapGrpcService<RuntimeService>();
        app.MapGrpcService<ImageService>();
        return app;
    }

    private static void AddTracing(WebApplicationBuilder builder, TelemetryOptions telemetry)
    {
        if (telemetry.Exporter == TraceExporter.None)
        {
            // No listener on the ActivitySource: spans are never created, tracing costs nothing.
            return;
        }

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(telemetry.ServiceName, serviceVersion: ProductVersion.Value))
            .WithTracing(tracing =>
            {
                tracing.AddSource(CriInterceptor.Source.Name);
                // ASP.NET Core starts an unrecorded activity per request; a parent-based sampler would then drop
                // every CRI span. Tracing is opt-in, so when it is on, record every call.
                tracing.SetSampler(new AlwaysOnSampler());
                if (telemetry.Exporter == TraceExporter.Console)
                {
                    tracing.AddConsoleExporter();
                }
                else
                {
                    tracing.AddOtlpExporter(o => o.Endpoint = new Uri(telemetry.OtlpEndpoint));
                }
            });
    }
}
