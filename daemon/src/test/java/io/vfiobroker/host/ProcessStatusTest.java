package io.vfiobroker.host;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class ProcessStatusTest {

    static final String STATUS = "Name:\tqemu\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t100\t100\t100\n"
            + "FDSize:\t64\nGroups:\t4 27 1000 \nVmPeak:\t  12345 kB\nVmLck:\t    2048 kB\nVmPin:\t       4 kB\nThreads:\t3\n"
            + "CapInh:\t0000000000000000\nCapEff:\t0000000001000000\nCapBnd:\t000001ffffffffff";

    @Test
    void readsTheLinesItDecidesOn() {
        ProcessStatus s = ProcessStatus.parse(STATUS);
        assertThat(s.uid()).as("the real uid, first column").isEqualTo(1000);
        assertThat(s.gid()).isEqualTo(100);
        assertThat(s.groups()).containsExactly(4, 27, 1000);
        assertThat(s.vmLckBytes()).isEqualTo(2048L * 1024);
        assertThat(s.vmPinBytes()).isEqualTo(4096);
        assertThat(s.hasCapability(24)).as("CAP_SYS_RESOURCE is bit 24").isTrue();
        assertThat(s.hasCapability(21)).isFalse();
    }

    @Test
    void missingOrBrokenLinesGiveIdsNoProcessHas() {
        ProcessStatus s = ProcessStatus.parse("Uid:\tx\nGroups:\t\nVmLck:\n");
        assertThat(s.uid()).isEqualTo(-1);
        assertThat(s.gid()).isEqualTo(-1);
        assertThat(s.groups()).isEmpty();
        assertThat(s.vmLckBytes()).isZero();
        assertThat(s.hasCapability(24)).as("no CapEff line: 0, nothing held").isFalse();
    }

    @Test
    void agreesWithTheKernelAboutThisProcess() throws Exception {
        ProcessStatus s = ProcessStatus.parse(Files.readString(Path.of("/proc/self/status")));
        int uid = ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue();
        assertThat(s.uid()).isEqualTo(uid);
        assertThat(s.gid()).isGreaterThanOrEqualTo(0);
        assertThat(s.capEff()).isNotEqualTo(-1);
    }
}
