package io.vfiobroker.domain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PciAddressTest {

    @Test
    void parsesTheKernelsForm() {
        PciAddress a = PciAddress.parse("0000:3b:02.7");
        assertThat(a).isEqualTo(new PciAddress(0, 0x3b, 2, 7));
        assertThat(a.toString()).isEqualTo("0000:3b:02.7");
        assertThat(PciAddress.parse("10000:E1:1F.0").toString()).isEqualTo("10000:e1:1f.0");
    }

    @ParameterizedTest
    @ValueSource(strings = {"../../..", "0000:3b:02.8", "0000:3b:20.0", "000:3b:02.0", "0000:3b:2.0", "0000:3b:02.0/..",
            "0000:3b:02.0\n", " 0000:3b:02.0", "0000:zz:02.0", "", "0000:3b:02", "../0000:00:00.0",
            "+000:3b:02.0", "0000:3b:0\uff12.0", "0000:3b:02:0", "0000.3b:02.0", "000000:3b:02.0", "0000:3b:02.-"})
    void rejectsAnythingElseNamingTheInput(String bad) {
        assertThat(PciAddress.isValid(bad)).isFalse();
        assertThatThrownBy(() -> PciAddress.parse(bad))
                .isInstanceOf(PciAddress.InvalidAddressException.class)
                .hasMessageContaining("'" + bad + "'");
    }

    // Seeded, so a failure reproduces; the seed is in the assertion message.
    private static final long SEED = 0x5eed_0001L;

    @Test
    void printingThenParsingIsIdentity() {
        SplittableRandom r = new SplittableRandom(SEED);
        for (int i = 0; i < 5000; i++) {
            PciAddress a = new PciAddress(r.nextInt(0x100000), r.nextInt(0x100), r.nextInt(0x20), r.nextInt(8));
            assertThat(PciAddress.parse(a.toString())).as("seed %x try %d", SEED, i).isEqualTo(a);
        }
    }

    @Test
    void orderingAgreesWithTheTextualFormWithinADomain() {
        SplittableRandom r = new SplittableRandom(SEED);
        for (int i = 0; i < 5000; i++) {
            PciAddress x = new PciAddress(0, r.nextInt(0x100), r.nextInt(0x20), r.nextInt(8));
            PciAddress y = new PciAddress(0, r.nextInt(0x100), r.nextInt(0x20), r.nextInt(8));
            assertThat(Integer.signum(x.compareTo(y))).as("%s vs %s", x, y)
                    .isEqualTo(Integer.signum(x.toString().compareTo(y.toString())));
        }
    }
}
