package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventKind;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.WatchRequest;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.quota.Quotas;
import io.vfiobroker.quota.UidQuota;

import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.function.Predicate;

/**
 * vfiobroker.v1.Events.Watch: the event bus as a gRPC stream, one bounded queue per watcher.
 *
 * @param streams open streams per uid, shared with WatchMemlock and SSE
 */
public record EventsGrpcService(EventBus bus, Authz authz, UidQuota streams) implements EventsGrpc.AsyncService, BindableService {

    public EventsGrpcService(EventBus bus, Authz authz) {
        this(bus, authz, Quotas.defaults().streams());
    }

    @Override
    public void watch(WatchRequest req, StreamObserver<Event> observer) {
        Caller caller;
        Predicate<Published> filter;
        boolean admin;
        try {
            caller = CallerInterceptor.caller();
            admin = authz.isAdmin(caller);
            filter = filter(req, caller, admin);
        } catch (io.grpc.StatusRuntimeException e) {
            observer.onError(e);
            return;
        }
        UidQuota.Slot slot = FlowControl.takeSlot(streams, caller, admin, observer);
        if (slot == null) return;
        EventBus.Subscription sub;
        try {
            sub = bus.subscribe("grpc " + caller, filter);
        } catch (EventBus.TooManySubscribers e) {
            slot.close();
            observer.onError(GrpcErrors.error(Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHERS", e.getMessage()));
            return;
        }
        FlowControl.start(observer, () -> {
            sub.close();
            slot.close();
        }, flow -> pump(sub, flow));
    }

    private static void pump(EventBus.Subscription sub, FlowControl<Event> flow) throws InterruptedException {
        while (!flow.cancelled()) {
            Published p = sub.next(Duration.ofMillis(500));
            if (p == null) {
                if (sub.ended()) return;
                continue;
            }
            if (!flow.awaitReady()) {
                if (!flow.cancelled()) {
                    flow.out().onError(GrpcErrors.error(Status.Code.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHERS",
                            "the watcher read nothing for " + FlowControl.STALL.toSeconds() + " s"));
                }
                return;
            }
            flow.out().onNext(ProtoMapping.event(p));
            if (p.event() instanceof BrokerEvent.Dropped d) {
                flow.out().onError(Status.RESOURCE_EXHAUSTED.withDescription(d.reason()).asRuntimeException());
                return;
            }
        }
    }

    static Predicate<Published> filter(WatchRequest req, Caller caller, boolean admin) {
        Set<EventKind> kinds = EnumSet.noneOf(EventKind.class);
        for (EventKind k : req.getKindsList()) if (k != EventKind.EVENT_KIND_UNSPECIFIED && k != EventKind.UNRECOGNIZED) kinds.add(k);
        String device = req.getDevice().isEmpty() ? null : InventoryGrpcService.address(req.getDevice(), "device").toString();
        int uid = caller.uid();
        return p -> {
            BrokerEvent e = p.event();
            if (!kinds.isEmpty() && !kinds.contains(ProtoMapping.kind(e.kind()))) return false;
            if (!admin) {
                if (e instanceof BrokerEvent.LeaseChanged l && l.lease().holder().uid() != uid) return false;
                if (e instanceof BrokerEvent.MemlockThreshold m && m.uid() != uid) return false;
            }
            if (device != null) {
                if (e instanceof BrokerEvent.DeviceChanged d) return device.equals(d.address());
                if (e instanceof BrokerEvent.BindingChanged b) return b.devices().contains(device) || device.equals(b.requested());
                if (e instanceof BrokerEvent.LeaseChanged l) return l.lease().devices().stream().anyMatch(x -> x.address().toString().equals(device));
                return false;
            }
            return true;
        };
    }

    @Override
    public ServerServiceDefinition bindService() {
        return EventsGrpc.bindService(this);
    }
}
