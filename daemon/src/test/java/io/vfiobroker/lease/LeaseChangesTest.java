package io.vfiobroker.lease;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

class LeaseChangesTest {

    @Test
    void aListenerThatThrowsDoesNotSilenceTheOthers() {
        LeaseChanges changes = new LeaseChanges();
        List<String> heard = new ArrayList<>();
        changes.addListener(l -> {
            throw new IllegalStateException("boom");
        });
        changes.addListener(l -> heard.add("second"));
        changes.changed(null);
        assertThat(heard).containsExactly("second");
    }

    @Test
    void beforePersistToTheStoreCallsAreNoOps() {
        LeaseChanges changes = new LeaseChanges();
        assertThatCode(() -> {
            changes.redeemed("l1");
            changes.ended("l1");
        }).doesNotThrowAnyException();
    }
}
