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
