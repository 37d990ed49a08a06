package io.vfiobroker.controlplane;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.WatchRequest;

import java.nio.file.Path;

/** Run as another uid: opens n Events.Watch streams and holds them; prints "refused CODE message" for each refusal. */
public final class StreamHogMain {

    public static void main(String[] args) throws Exception {
        EventLoopGroup[] g = new EventLoopGroup[1];
        ManagedChannel ch = ControlPlane.channel(Path.of(args[0]), g);
        int n = Integer.parseInt(args[1]);
        EventsGrpc.EventsStub events = EventsGrpc.newStub(ch);
        for (int i = 0; i < n; i++) {
            events.watch(WatchRequest.getDefaultInstance(), new StreamObserver<>() {
                @Override
                public void onNext(Event value) {
                }

                @Override
                public void onError(Throwable t) {
                    if (t instanceof StatusRuntimeException e) System.out.println("refused " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
                    else System.out.println("failed " + t);
                    System.out.flush();
                }

                @Override
                public void onCompleted() {
                }
            });
        }
        System.out.println("started " + n);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
