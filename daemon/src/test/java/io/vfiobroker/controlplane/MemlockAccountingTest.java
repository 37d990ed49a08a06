package io.vfiobroker.controlplane;

import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.Published;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real memlock: a child process (root, so the daemon's prlimit may lower its limit without CAP_SYS_RESOURCE)
 * holds a lease and mlock()s memory on command; accounting reads it from /proc like the daemon does.
 */
class MemlockAccountingTest {

    static final String EDU = "0000:06:00.0";
    static final long MIB = 1 << 20;
    // mlock through libc: the locked pages show up in VmLck; a lock past RLIMIT_MEMLOCK fails with EAGAIN/ENOMEM.
    static final String CHILD = """
            import ctypes, mmap, sys
            libc = ctypes.CDLL(None, use_errno=True)
            held = []
            print("READY", flush=True)
            for line in sys.stdin:
                n = int(line.split()[1])
                buf = mmap.mmap(-1, n)
                addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
                if libc.mlock(ctypes.c_void_p(addr), ctypes.c_size_t(n)) == 0:
                    held.append(buf)
                    print("LOCKED", n, flush=True)
                else:
                    print("FAILED", ctypes.get_errno(), flush=True)
            """;

    ControlPlane cp;
    Process child;
    BufferedReader out;
    Writer in;
    final BlockingQueue<AccountingService.Report> reports = new LinkedBlockingQueue<>();
    EventBus.Subscription events;

    @BeforeEach
    void start() throws Exception {
        cp = new ControlPlane();
        events = cp.bus.subscribe("test", p -> p.event().kind().equals("accounting"));
        Path script = cp.dir.resolve("mlock.py");
        Files.writeString(script, CHILD);
        // Without CAP_IPC_LOCK, as a client would be: root with it ignores RLIMIT_MEMLOCK altogether.
        child = new ProcessBuilder("setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "python3", script.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        in = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8);
        assertThat(out.readLine()).isEqualTo("READY");
        cp.accounting.addListener(reports::add);
    }

    @AfterEach
    void stop() throws IOException {
        child.destroyForcibly();
        cp.close();
    }

    private String lock(long bytes) throws IOException {
        in.write("lock " + bytes + "\n");
        in.flush();
        return out.readLine();
    }

    private Lease acquire() {
        // The root-edu rule grants 4 MiB per lease: the lease service sets it on the child with prlimit.
        return cp.leases.acquire(new Caller((int) child.pid(), 0, 0), List.of(EDU), null, 0).getKey();
    }

    private AccountingService.LeaseUse waitFor(String leaseId, java.util.function.Predicate<AccountingService.LeaseUse> p, Duration max)
            throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            AccountingService.Report r = reports.poll(50, TimeUnit.MILLISECONDS);
            if (r == null) continue;
            for (AccountingService.LeaseUse u : r.leases()) if (u.leaseId().equals(leaseId) && p.test(u)) return u;
        }
        throw new AssertionError("no report within " + max + " matched for lease " + leaseId + "; latest " + cp.accounting.latest());
    }

    @Test
    void reportedUseFollowsTheChildsMlockWithinASecond() throws Exception {
        Lease lease = acquire();
        assertThat(cp.leases.memlock().softLimit((int) child.pid())).hasValue(4 * MIB);
        cp.accounting.start(Duration.ofMillis(100));
        assertThat(lock(MIB)).isEqualTo("LOCKED " + MIB);
        long t0 = System.nanoTime();
        AccountingService.LeaseUse u = waitFor(lease.id(), x -> x.vmLckBytes() >= MIB, Duration.ofSeconds(1));
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(1));
        assertThat(u.limitBytes()).isEqualTo(4 * MIB);
        assertThat(u.usedBytes()).isEqualTo(u.vmLckBytes());
        assertThat(u.lockedPages()).isEqualTo(u.usedBytes() / 4096);
        assertThat(u.level()).isEqualTo(AccountingService.Level.OK);
        assertThat(u.processAlive()).isTrue();
        AccountingService.Report r = cp.accounting.sample();
        assertThat(r.principals()).singleElement().satisfies(p -> {
            assertThat(p.uid()).isZero();
            assertThat(p.usedBytes()).isGreaterThanOrEqualTo(MIB);
            assertThat(p.limitBytes()).isEqualTo(4 * MIB);
        });
        assertThat(r.host().usedBytes()).isEqualTo(r.principals().get(0).usedBytes());
    }

    @Test
    void nearLimitIsAnEventAndAnAuditRecordAndAnOverLimitLockFailsInTheChild() throws Exception {
        Lease lease = acquire();
        assertThat(lock(3 * MIB + 3 * MIB / 4)).startsWith("LOCKED");
        AccountingService.Report r = cp.accounting.sample();
        AccountingService.LeaseUse u = r.leases().get(0);
        assertThat(u.level()).isEqualTo(AccountingService.Level.NEAR_LIMIT);
        Published p = events.next(Duration.ofSeconds(1));
        assertThat(p.event()).isInstanceOfSatisfying(BrokerEvent.MemlockThreshold.class, m -> {
            assertThat(m.type()).isEqualTo("memlock-near-limit");
            assertThat(m.leaseId()).isEqualTo(lease.id());
            assertThat(m.limitBytes()).isEqualTo(4 * MIB);
        });
        // A second sample at the same level is not a second event.
        cp.accounting.sample();
        assertThat(events.next(Duration.ofMillis(100))).isNull();

        // Past the limit the kernel refuses (EAGAIN 11 or ENOMEM 12), and use stays under the limit.
        assertThat(lock(MIB)).matches("FAILED (11|12)");
        assertThat(cp.accounting.sample().leases().get(0).usedBytes()).isLessThanOrEqualTo(4 * MIB);
        assertThat(cp.audit.readAll()).anySatisfy(a -> {
            assertThat(a.event()).isEqualTo("memlock-near-limit");
            assertThat(a.fields()).containsEntry("lease", lease.id());
        });
    }

    @Test
    void aLimitLoweredUnderExistingLocksIsOverLimitAndThePeakIsKept() throws Exception {
        Lease lease = acquire();
        assertThat(lock(2 * MIB)).startsWith("LOCKED");
        cp.accounting.sample();
        // Lowering RLIMIT_MEMLOCK does not unlock pages: the process is now over its limit.
        cp.leases.memlock().limit((int) child.pid(), MIB);
        AccountingService.LeaseUse u = cp.accounting.sample().leases().get(0);
        assertThat(u.level()).isEqualTo(AccountingService.Level.OVER_LIMIT);
        assertThat(u.limitBytes()).isEqualTo(MIB);
        assertThat(u.peakBytes()).isGreaterThanOrEqualTo(2 * MIB);
        assertThat(events.next(Duration.ofSeconds(1)).event().type()).isEqualTo("memlock-over-limit");
        assertThat(cp.audit.readAll()).anySatisfy(a -> assertThat(a.event()).isEqualTo("memlock-over-limit"));
        // The lease's end takes it out of the report.
        cp.leases.end(lease.id(), "test over");
        assertThat(cp.leases.awaitEnded(lease.id(), Duration.ofSeconds(20))).isTrue();
        assertThat(cp.accounting.sample().leases()).isEmpty();
    }
}
