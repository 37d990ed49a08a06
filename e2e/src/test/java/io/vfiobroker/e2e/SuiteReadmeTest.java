package io.vfiobroker.e2e;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * e2e/README.md's scenario table is what the suite runs. To rewrite it (and, given a run's results, the timings):
 * {@code mvn -pl e2e test -Dtest=SuiteReadmeTest -De2e.writeReadme=true [-De2e.timingsFrom=DIR -De2e.timingsRun="…"]}.
 */
class SuiteReadmeTest {

    private static final Path README = Path.of(System.getProperty("e2e.moduleDir", ".")).resolve("README.md");

    @Test
    void theReadmesScenarioTableIsGeneratedFromTheSuite() throws Exception {
        String readme = Files.readString(README);
        String table = SuiteReadme.scenarioTable();
        if (Boolean.getBoolean("e2e.writeReadme")) {
            readme = SuiteReadme.replace(readme, SuiteReadme.TABLE, table);
            String from = System.getProperty("e2e.timingsFrom", "");
            if (!from.isBlank()) {
                readme = SuiteReadme.replace(readme, SuiteReadme.TIMINGS, SuiteReadme.timings(Path.of(from), System.getProperty("e2e.timingsRun", from)));
            }
            Files.writeString(README, readme);
        }
        assertThat(SuiteReadme.section(readme, SuiteReadme.TABLE))
                .as("e2e/README.md is stale; rewrite it with mvn -pl e2e test -Dtest=SuiteReadmeTest -De2e.writeReadme=true")
                .isEqualTo(table);
    }

    @Test
    void everyTestOfTheSuiteIsARowWithItsDefaultBoots() {
        String table = SuiteReadme.scenarioTable();
        assertThat(table).contains("`RevokeIT.aDaemonKilledAfterAnySysfsWriteOfABindOrReleaseLeavesNoDeviceHalfBound` |")
                .contains("| only with `-De2e.crashPoints=true` (then as `leases`) |")
                .contains("| custom-6.12 × on |", "debian-6.1 × on, custom-6.12 × on, custom-6.12 × off");
        long rows = table.lines().filter(l -> l.startsWith("| ") && l.endsWith("` |")).count();
        long tests = SuiteReadme.SUITE.stream().flatMap(c -> java.util.Arrays.stream(c.getDeclaredMethods()))
                .filter(m -> m.isAnnotationPresent(org.junit.jupiter.api.Test.class)
                        || m.isAnnotationPresent(org.junit.jupiter.params.ParameterizedTest.class)).count();
        assertThat(rows).isEqualTo(tests).isGreaterThanOrEqualTo(25);
        assertThat(SuiteReadme.sentence("scenario2BindingAGroupMakesItsNode")).isEqualTo("2: binding a group makes its node");
        assertThatThrownBy(() -> SuiteReadme.section("# nothing", "scenarios")).hasMessageContaining("no generated section 'scenarios'");
    }
}
