package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.api.v1.AccountingGrpc;
import io.vfiobroker.api.v1.GetMemlockRequest;
import io.vfiobroker.api.v1.MemlockReport;
import io.vfiobroker.api.v1.WatchMemlockRequest;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.quota.Quotas;
import io.vfiobroker.quota.UidQuota;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * vfiobroker.v1.Accounting: memlock per lease, principal and host; WatchMemlock streams the sampler's reports.
 *
 * @param streams open streams per uid, shared with Events.Watch and SSE
 */
public record AccountingGrpcService(AccountingService accounting, Authz authz, UidQuota streams)
        implements AccountingGrpc.AsyncService, BindableService {

    public AccountingGrpcService(AccountingService accounting, Authz authz) {
        this(accounting, authz, Quotas.defaults().streams());
    }

    private static String leaseFilter(String id) {
        if (id.length() > 64) throw GrpcErrors.invalid("lease_id is at most 64 characters", "lease_id");
        return id;
    }

    @Override
    public void getMemlock(GetMemlockRequest req, StreamObserver<MemlockReport> out) {
        Calls.respond(out, () -> {
            Caller c = CallerInterceptor.caller();
            return ProtoMapping.report(accounting.sample(), authz.isAdmin(c), c.uid(), leaseFilter(req.getLeaseId()));
        });
    }

    @Override
    public void watchMemlock(WatchMemlockRequest req, StreamObserver<MemlockReport> observer) {
        Caller c;
        String lease;
        try {
            c = CallerInterceptor.caller();
            lease = leaseFilter(req.getLeaseId());
        } catch (io.grpc.StatusRuntimeException e) {
            observer.onError(e);
            return;
        }
        boolean admin = authz.isAdmin(c);
        UidQuota.Slot slot = FlowControl.takeSlot(streams, c, admin, observer);
        if (slot == null) return;
        Duration interval = Duration.ofMillis(Math.max(100, req.getIntervalMs()));
        // Reports supersede each other: a slow reader gets the newest, never a backlog.
        AtomicReference<AccountingService.Report> pending = new AtomicReference<>(accounting.sample());
        AtomicReference<FlowControl<MemlockReport>> flow = new AtomicReference<>();
        Consumer<AccountingService.Report> listener = r -> {
            pending.set(r);
            FlowControl<MemlockReport> f = flow.get();
            if (f != null) f.wake();
        };
        accounting.addListener(listener);
        flow.set(FlowControl.start(observer, () -> {
            accounting.removeListener(listener);
            slot.close();
        }, f -> write(c, lease, admin, interval, pending, f)));
    }

    private static void write(Caller c, String lease, boolean admin, Duration interval, AtomicReference<AccountingService.Report> pending,
                              FlowControl<MemlockReport> flow) throws InterruptedException {
        long last = 0;
        while (!flow.cancelled()) {
            AccountingService.Report r = pending.getAndSet(null);
            if (r == null) {
                flow.sleep(interval);
                continue;
            }
            long wait = last + interval.toNanos() - System.nanoTime();
            if (last != 0 && wait > 0) Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            if (!flow.awaitReady()) {
                if (!flow.cancelled()) flow.out().onError(Status.RESOURCE_EXHAUSTED.withDescription("the watcher read nothing for "
                        + FlowControl.STALL.toSeconds() + " s").asRuntimeException());
                return;
            }
            AccountingService.Report newest = pending.getAndSet(null);
            flow.out().onNext(ProtoMapping.report(newest != null ? newest : r, admin, c.uid(), lease));
            last = System.nanoTime();
        }
    }

    @Override
    public ServerServiceDefinition bindService() {
        return AccountingGrpc.bindService(this);
    }
}
