package io.vfiobroker.e2e;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The harness's own promise: a hung guest fails its test within the time box, it never hangs CI. */
@Part(boot = "selftest-hang", script = "selftest-hang.sh", on = "custom-6.12 × on")
class HarnessIT {

    @Test
    void hungScenarioIsCutOffAndReportedAsTimeout() {
        // custom-6.12 boots fastest (no modules); the guest's own timer fires 20 s before the box ends.
        VmResult r = VmHarness.boot(Kernel.CUSTOM_6_12, Iommu.ON, "selftest-hang", Duration.ofSeconds(45), "guest-timer");

        assertThat(r.exitCode()).isEqualTo(124);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(75));
        assertThat(r.text("scenario.log")).contains("hanging on purpose", "in-guest timeout");
        assertThatThrownBy(r::requireSuccess).isInstanceOf(AssertionError.class).hasMessageContaining("timed out");
    }

    @Test
    void vmStillRunningAtTheEndOfItsBoxIsKilled() {
        // Boxes of 40 s or less get no in-guest timer, so the hung scenario runs until QEMU is killed.
        VmResult r = VmHarness.boot(Kernel.CUSTOM_6_12, Iommu.ON, "selftest-hang", Duration.ofSeconds(10), "host-kill");

        assertThat(r.exitCode()).isEqualTo(124);
        assertThat(r.took()).isLessThan(Duration.ofSeconds(30));
        assertThat(r.dir().resolve("exit-status")).doesNotExist();
        assertThat(r.text("scenario.log")).contains("hanging on purpose");   // it was running, not still booting
    }
}
