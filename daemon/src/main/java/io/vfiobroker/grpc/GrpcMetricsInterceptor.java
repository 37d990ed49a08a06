package io.vfiobroker.grpc;

import com.google.rpc.ErrorInfo;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.util.Locale;

/**
 * Counts every gRPC call by method and status, and times Acquire: outcome = status code, reason = the
 * ErrorInfo reason (both closed sets, so label cardinality stays bounded).
 */
public final class GrpcMetricsInterceptor implements ServerInterceptor {

    private static final String ACQUIRE = "vfiobroker.v1.Leases/Acquire";
    private final MeterRegistry registry;

    public GrpcMetricsInterceptor(MeterRegistry registry) {
        this.registry = registry;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        long start = System.nanoTime();
        ServerCall<Q, R> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            public void close(Status status, Metadata trailers) {
                try {
                    record(method, start, status, trailers);
                } catch (RuntimeException ignored) {
                    // metrics never fail a call
                }
                super.close(status, trailers);
            }
        };
        return next.startCall(counted, headers);
    }

    private void record(String method, long start, Status status, Metadata trailers) {
        String code = status.getCode().name().toLowerCase(Locale.ROOT);
        Counter.builder("vfio_broker_grpc_calls").description("gRPC calls by method and status code")
                .tag("method", method).tag("code", code).register(registry).increment();
        if (!method.equals(ACQUIRE)) return;
        ErrorInfo info = status.isOk() ? null : GrpcErrors.info(status, trailers);
        String reason = status.isOk() ? "granted" : info != null ? info.getReason().toLowerCase(Locale.ROOT) : code;
        Timer.builder("vfio_broker_acquire").description("Acquire latency by outcome (gRPC status code) and refusal reason")
                .tag("outcome", status.isOk() ? "granted" : code).tag("reason", reason)
                .publishPercentileHistogram().register(registry).record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
    }
}
