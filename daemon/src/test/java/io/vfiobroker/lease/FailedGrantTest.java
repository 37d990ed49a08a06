package io.vfiobroker.lease;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.hostgen.HostSpec;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An Acquire that fails after its lease was committed (the lease store cannot be written, the allocation claim
 * fails) leaves nothing behind: no lease in the registry or the store, no watch, no claim, no count against the uid,
 * and the group back on its driver, as for an Acquire that fails before.
 */
class FailedGrantTest {

    static final String VF_ID = "8086:154c";
    static final String RESOURCE = "vfio-broker.io/x710-vf";
    // maxDevices 1: a lease left counted would refuse the second Acquire.
    static final String POLICY = """
            version: 1
            rules:
              - name: k8s-vfs
                action: allow
                devices: { vendorDevice: "8086:154c" }
                principals: { kubernetesResource: %s }
                limits: { maxDevices: 1, memlockPerLease: unlimited }
              - name: root-vfs
                action: allow
                devices: { vendorDevice: "8086:154c" }
                principals: { uid: 0 }
                limits: { maxDevices: 1, memlockPerLease: unlimited }
            """.formatted(RESOURCE);

    LeaseFixture f;
    String vf;
    String driverBefore;
    Path storeFile;

    /** A VF still on its own driver, and the lease store a restart would read. */
    private void start() throws IOException {
        f = new LeaseFixture(HostSpec.demo(), POLICY);
        vf = f.address(VF_ID);
        driverBefore = f.driver(vf);
        storeFile = f.dir.resolve("state/leases.json");
        f.leases.persistTo(new LeaseStore(storeFile));
    }

    @AfterEach
    void stop() throws IOException {
        if (f != null) f.close();
    }

    private static Caller self() {
        return new Caller((int) ProcessHandle.current().pid(), 0, 0);
    }

    @Test
    void aClaimThatFailsAfterTheCommitLeavesNoLeaseWatchedStoredOrCounted() throws Exception {
        start();
        FailingClaims claims = new FailingClaims(new AllocationGate.Allocation("token-1", RESOURCE, Set.of(PciAddress.parse(vf))));
        f.leases.allocations(claims);
        Process client = new ProcessBuilder("sleep", "60").start();
        f.children.add(client);

        assertThatThrownBy(() -> f.leases.acquire(new Caller((int) client.pid(), 0, 0), "token-1", List.of(vf), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("allocation table unavailable");
        String id = claims.refused;
        assertThat(id).as("the claim was asked for the committed lease").isNotNull();

        assertThat(f.leases.get(id)).isEmpty();
        assertThat(f.leases.active()).isEmpty();
        assertThat(f.driver(vf)).as("the group the Acquire bound is given back").isEqualTo(driverBefore);
        assertThat(new LeaseStore(storeFile).read()).as("what a restart would adopt").isEmpty();
        assertThat(claims.ended).as("no claim left pointing at it").contains(id);
        assertThat(f.audit()).contains("\"acquire-failed\"").doesNotContain("\"lease-granted\"");

        // Its watch is gone: the client's exit ends nothing and tells no listener anything.
        client.destroyForcibly().waitFor();
        Thread.sleep(300);
        assertThat(f.audit()).doesNotContain(id);
        assertThat(f.changes).noneMatch(l -> l.id().equals(id));

        claims.fail = false;
        Lease second = f.leases.acquire(self(), "token-1", List.of(vf), null, 0).getKey();
        assertThat(f.driver(vf)).isEqualTo("vfio-pci");
        assertThat(new LeaseStore(storeFile).read()).extracting(LeaseStore.Stored::id).containsExactly(second.id());
    }

    @Test
    void aLeaseStoreThatCannotBeWrittenFailsTheAcquireAndLeavesNothingBehind() throws Exception {
        start();
        Files.delete(storeFile);
        Files.createDirectory(storeFile); // the next append cannot open it

        assertThatThrownBy(() -> f.leases.acquire(self(), List.of(vf), null, 0)).hasMessageContaining("cannot write lease store");
        assertThat(f.leases.active()).isEmpty();
        assertThat(f.driver(vf)).isEqualTo(driverBefore);
        assertThat(f.audit()).contains("\"acquire-failed\"");
        assertThat(f.changes).isEmpty();

        Files.delete(storeFile);
        Lease second = f.leases.acquire(self(), List.of(vf), null, 0).getKey();
        assertThat(f.leases.active()).extracting(Lease::id).containsExactly(second.id());
        assertThat(new LeaseStore(storeFile).read()).extracting(LeaseStore.Stored::id).containsExactly(second.id());
    }

    @Test
    void anEndThatBeginsBeforeTheClaimDoesNotLeaveTheAllocationHeldByTheEndedLease() throws Exception {
        start();
        RacingClaims claims = new RacingClaims(new AllocationGate.Allocation("token-1", RESOURCE, Set.of(PciAddress.parse(vf))));
        f.leases.allocations(claims);

        // The client's exit is seen between the commit and the claim: its end frees the allocation first.
        claims.endFirst = id -> f.leases.end(id, "client process exited");
        String id = f.leases.acquire(self(), "token-1", List.of(vf), null, 0).getKey().id();

        assertThat(f.leases.awaitEnded(id, java.time.Duration.ofSeconds(10))).isTrue();
        assertThat(claims.holder).as("the allocation may be leased again, not held by an ended lease").isNull();
    }

    /** One allocation held by at most one lease, as the kubelet adapter keeps it; {@code endFirst} runs inside the claim. */
    private static final class RacingClaims implements AllocationGate {
        final Allocation allocation;
        volatile java.util.function.Consumer<String> endFirst = id -> { };
        volatile String holder;

        RacingClaims(Allocation allocation) {
            this.allocation = allocation;
        }

        @Override
        public Allocation claimable(String token) {
            return allocation;
        }

        @Override
        public void claim(String token, String leaseId) {
            endFirst.accept(leaseId);
            holder = leaseId;
        }

        @Override
        public synchronized void leaseEnded(String leaseId) {
            if (leaseId.equals(holder)) holder = null;
        }
    }

    /** One allocation, whose claim fails while {@code fail} is set. */
    private static final class FailingClaims implements AllocationGate {
        final Allocation allocation;
        final List<String> ended = new CopyOnWriteArrayList<>();
        volatile boolean fail = true;
        volatile String refused;

        FailingClaims(Allocation allocation) {
            this.allocation = allocation;
        }

        @Override
        public Allocation claimable(String token) {
            if (!token.equals(allocation.token())) throw new LeaseException(LeaseException.Kind.DENIED, "unknown token " + token);
            return allocation;
        }

        @Override
        public void claim(String token, String leaseId) {
            if (!fail) return;
            refused = leaseId;
            throw new IllegalStateException("allocation table unavailable (stand-in failure)");
        }

        @Override
        public void leaseEnded(String leaseId) {
            ended.add(leaseId);
        }
    }
}
