package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.lease.LeaseException;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AllocationsTest {

    private static final Set<PciAddress> TWO = Set.of(PciAddress.parse("0000:3b:02.0"), PciAddress.parse("0000:3b:02.1"));

    @Test
    void twoAcquiresThatBothPassedTheCheckCannotBothClaimOneAllocation() {
        Allocations allocations = new Allocations(Duration.ofHours(1));
        String token = allocations.register("example.com/vf", TWO).getKey();
        allocations.claimable(token); // both Acquires pass the check before either claims
        allocations.claimable(token);
        allocations.claim(token, "lease-a");

        assertThatThrownBy(() -> allocations.claim(token, "lease-b")).isInstanceOf(LeaseException.class)
                .hasMessageContaining("held by lease lease-a").hasMessageContaining("one lease per allocation")
                .satisfies(e -> assertThat(((LeaseException) e).kind()).isEqualTo(LeaseException.Kind.PRECONDITION));
        // The first claim stands: a replacing Allocate takes lease-a back, not the refused one.
        assertThat(allocations.register("example.com/vf", TWO).getValue()).containsExactly("lease-a");
    }

    @Test
    void aTokenReplacedWhileItsLeaseWasBeingGrantedCannotBeClaimed() {
        Allocations allocations = new Allocations(Duration.ofHours(1));
        String token = allocations.register("example.com/vf", TWO).getKey();
        allocations.claimable(token);
        String next = allocations.register("example.com/vf", Set.of(PciAddress.parse("0000:3b:02.1"))).getKey();

        assertThatThrownBy(() -> allocations.claim(token, "lease-a")).isInstanceOf(LeaseException.class)
                .hasMessageContaining("replaced or expired").hasMessageContaining("lease-a")
                .satisfies(e -> assertThat(((LeaseException) e).kind()).isEqualTo(LeaseException.Kind.DENIED));
        allocations.claim(next, "lease-b"); // the new container's token is unaffected
        assertThatThrownBy(() -> allocations.claimable(next)).hasMessageContaining("held by lease lease-b");
    }

    @Test
    void theSameLeaseClaimingAgainAndAnEndedLeaseFreeTheAllocation() {
        Allocations allocations = new Allocations(Duration.ofHours(1));
        String token = allocations.register("example.com/vf", TWO).getKey();
        allocations.claim(token, "lease-a");
        allocations.claim(token, "lease-a");
        allocations.leaseEnded("lease-a");
        assertThat(allocations.claimable(token).devices()).isEqualTo(TWO);
        allocations.claim(token, "lease-b");
        assertThatThrownBy(() -> allocations.claim(token, "lease-a")).hasMessageContaining("held by lease lease-b");
    }
}
