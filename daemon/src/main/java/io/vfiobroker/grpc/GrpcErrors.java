package io.vfiobroker.grpc;

import com.google.protobuf.Any;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.vfiobroker.lease.LeaseException;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * gRPC errors with a google.rpc.ErrorInfo detail (domain vfio-broker.io, a reason from errors.proto, metadata
 * naming device, rule, lease) next to the sentence in the description.
 */
public final class GrpcErrors {

    public static final String DOMAIN = "vfio-broker.io";
    private static final Pattern ADDRESS = Pattern.compile("\\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]\\b");

    private GrpcErrors() {
    }

    /** {@code metadata} alternates keys and values; null or empty values are left out. */
    public static StatusRuntimeException error(Status.Code code, String reason, String message, String... metadata) {
        ErrorInfo.Builder info = ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(reason);
        for (int i = 0; i + 1 < metadata.length; i += 2) {
            if (metadata[i + 1] != null && !metadata[i + 1].isEmpty()) info.putMetadata(metadata[i], metadata[i + 1]);
        }
        com.google.rpc.Status st = com.google.rpc.Status.newBuilder().setCode(code.value()).setMessage(message == null ? "" : message)
                .addDetails(Any.pack(info.build())).build();
        return StatusProto.toStatusRuntimeException(st);
    }

    public static StatusRuntimeException invalid(String message, String field) {
        return error(Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST", message, "field", field);
    }

    public static StatusRuntimeException adminRequired(String what) {
        return error(Status.Code.PERMISSION_DENIED, "ADMIN_REQUIRED", what + " is for admins (root or the configured admin group)");
    }

    /** The lease service's refusals, with the device named in the message and the rule that decided. */
    public static StatusRuntimeException of(LeaseException e) {
        String msg = e.getMessage();
        Matcher m = ADDRESS.matcher(msg == null ? "" : msg);
        String device = m.find() ? m.group() : null;
        return switch (e.kind()) {
            case INVALID -> error(Status.Code.INVALID_ARGUMENT, "INVALID_REQUEST", msg, "device", device);
            case DENIED -> error(Status.Code.PERMISSION_DENIED, e.rule() != null ? "POLICY_DENIED"
                    : msg.contains("belongs to") ? "NOT_LEASE_HOLDER" : "POLICY_DENIED", msg, "device", device, "rule", e.rule());
            case NOT_FOUND -> error(Status.Code.NOT_FOUND, device != null ? "DEVICE_NOT_FOUND" : "LEASE_NOT_FOUND", msg, "device", device);
            case CONFLICT -> error(Status.Code.ALREADY_EXISTS, "DEVICE_LEASED", msg, "device", device);
            case PRECONDITION -> error(Status.Code.FAILED_PRECONDITION, "PRECONDITION", msg, "device", device);
            case KERNEL -> error(Status.Code.FAILED_PRECONDITION, "KERNEL", msg, "device", device);
            case EXHAUSTED -> error(Status.Code.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED", msg, "device", device, "rule", e.rule());
        };
    }

    /** The ErrorInfo a status carries, if any (for metrics and clients). */
    public static ErrorInfo info(Status status, io.grpc.Metadata trailers) {
        com.google.rpc.Status st = StatusProto.fromStatusAndTrailers(status, trailers);
        if (st == null) return null;
        for (Any a : st.getDetailsList()) {
            if (a.is(ErrorInfo.class)) {
                try {
                    return a.unpack(ErrorInfo.class);
                } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                    return null;
                }
            }
        }
        return null;
    }
}
