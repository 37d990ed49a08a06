package io.vfiobroker.cli;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.json.DomainJson;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class CliTest {

    @TempDir
    Path dir;
    Path host;
    StringWriter out;
    StringWriter err;

    @BeforeEach
    void generate() {
        host = HostTreeGenerator.generate(HostSpec.sriovScale(2, 3), dir.resolve("host"));
    }

    private int run(String... args) {
        out = new StringWriter();
        err = new StringWriter();
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("vfio-broker: " + e.getMessage());
            return 1;
        });
        return cl.execute(args);
    }

    @Test
    void devicesJsonListsEveryDeviceOfTheSpec() {
        assertThat(run("devices", "--json", "--root", host.toString())).isZero();
        JsonNode arr = DomainJson.mapper().readTree(out.toString());
        // host bridge + 2 root ports + 2 PFs + 6 VFs
        assertThat(arr.size()).isEqualTo(11);
        assertThat(arr.get(0).get("address").asString()).isEqualTo("0000:00:00.0");
        long vfs = 0;
        for (JsonNode d : arr) if (!d.get("physicalFunction").isNull()) vfs++;
        assertThat(vfs).isEqualTo(6);
    }

    @Test
    void tablesHaveHeadersAndOneRowPerItem() {
        assertThat(run("devices", "--root", host.toString())).isZero();
        assertThat(out.toString().lines()).hasSize(12).first().asString().startsWith("ADDRESS");
        assertThat(run("groups", "--root", host.toString())).isZero();
        assertThat(out.toString()).contains("is bound to iavf");
        assertThat(run("iommu", "--root", host.toString())).isZero();
        assertThat(out.toString()).contains("dmar0").contains("supported").contains("vfio=yes");
    }

    @Test
    void iommuJsonHasUnitsAndKernel() {
        assertThat(run("iommu", "--json", "--root", host.toString())).isZero();
        JsonNode doc = DomainJson.mapper().readTree(out.toString());
        assertThat(doc.get("units").get(0).get("interruptRemapping").asString()).isEqualTo("supported");
        assertThat(doc.get("kernel").get("vfioPci").asBoolean()).isTrue();
    }

    @Test
    void badAddressFailsWithExitOneNamingIt() {
        assertThat(run("devices", "--root", host.toString(), "../../..")).isEqualTo(1);
        assertThat(err.toString()).contains("invalid PCI address '../../..'");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void missingTreeFailsWithExitOne() {
        assertThat(run("devices", "--root", dir.resolve("nope").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("host root").contains("nope");
    }

    @Test
    void aDirectoryThatIsNotAHostTreeIsRefused() {
        assertThat(run("groups", "--root", dir.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("not a host tree");
    }

    @Test
    void usageErrorsExitTwo() {
        assertThat(run("devices", "--frobnicate")).isEqualTo(2);
        assertThat(run()).isEqualTo(2);
        assertThat(run("daemon", "--demo", "--root", "/")).isEqualTo(2);
    }

    @Test
    void generateHostRefusesANonEmptyTarget() {
        assertThat(run("generate-host", host.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("not empty");
        assertThat(run("generate-host", "--demo", dir.resolve("demo").toString())).isZero();
        assertThat(dir.resolve("demo/sys/bus/pci/devices")).isDirectory();
    }
}
