package io.vfiobroker.grpc;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.lease.LeaseException;

import java.util.function.Supplier;

/** One answer or one status: the shared error mapping of the unary calls. */
final class Calls {

    private Calls() {
    }

    static <T> void respond(StreamObserver<T> out, Supplier<T> work) {
        T value;
        try {
            value = work.get();
        } catch (StatusRuntimeException e) {
            out.onError(e);
            return;
        } catch (LeaseException e) {
            out.onError(GrpcErrors.of(e));
            return;
        } catch (io.vfiobroker.quota.QuotaExceededException e) {
            // e.g. the Acquire rate: the message names the cap's setting and the uid
            out.onError(GrpcErrors.error(Status.Code.RESOURCE_EXHAUSTED, "QUOTA_EXCEEDED", e.getMessage()));
            return;
        } catch (IllegalArgumentException e) {
            out.onError(GrpcErrors.invalid(e.getMessage(), null));
            return;
        } catch (RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription(e.getMessage()).withCause(e).asRuntimeException());
            return;
        }
        out.onNext(value);
        out.onCompleted();
    }
}
