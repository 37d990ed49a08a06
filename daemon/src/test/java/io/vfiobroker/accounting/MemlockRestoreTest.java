package io.vfiobroker.accounting;

import io.vfiobroker.nativeshim.Rlimits;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a lease end and an undone grant report when a limit cannot be set back: one decision, in Memlock. */
class MemlockRestoreTest {

    @Test
    void aProcessGoneMeanwhileTookItsLimitWithItNothingToReport() {
        // Above any pid_max (2^22): no process has it, so prlimit answers ESRCH and no live process is touched.
        assertThat(new Memlock().restore(Integer.MAX_VALUE, new Rlimits.Rlimit(65536, 65536))).isEmpty();
    }
}
