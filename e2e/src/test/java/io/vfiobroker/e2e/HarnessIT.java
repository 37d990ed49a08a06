package io.vfiobroker.e2e;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The harness's own promise: a hung guest fails its test within the time box, it never hangs CI. */
class HarnessIT {

    @Test
    void hungScenarioIsCutOffAndReportedAsTimeout() {
        // custom-6.12 boots fastest (no modules); the guest's own timer fires at half of a short box.
        VmResult r = VmHarness.boot(Kernel.CUSTOM_6_12, Iommu.ON, "selftest-hang", Duration.ofSeconds(30));

        assertThat(r.exitCode()).isEqualTo(124);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(60));
        assertThat(r.text("scenario.log")).contains("hanging on purpose", "in-guest timeout");
        assertThatThrownBy(r::requireSuccess).isInstanceOf(AssertionError.class).hasMessageContaining("timed out");
    }

    @Test
    void vmStillRunningAtTheEndOfItsBoxIsKilled() {
        // 3 s is too short for even the fastest boot to reach the scenario: QEMU itself is killed.
        VmResult r = VmHarness.boot(Kernel.CUSTOM_6_12, Iommu.ON, "selftest-hang", Duration.ofSeconds(3));

        assertThat(r.exitCode()).isEqualTo(124);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(20));
        assertThat(r.dir().resolve("exit-status")).doesNotExist();
    }
}
