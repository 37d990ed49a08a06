package io.vfiobroker.e2e;

import io.vfiobroker.nativeshim.AbiReport;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shim's own uapi definitions (vb_uapi.h, over the build host's 6.1 headers) and the Java mirrors, against the
 * headers the built 6.12 kernel exported: abi.c is compiled again over those, where every guarded definition of
 * vb_uapi.h gives way to the kernel's, and its report must say the same.
 */
@Part(script = "gcc: native-shim's abi.c over custom-6.12's exported headers", on = "the host")
class KernelHeadersAbiIT {

    private static final Path ABI_C = Path.of(System.getProperty("e2e.moduleDir", ".")).resolve("../native-shim/src/main/c/abi.c").normalize();

    /**
     * Known and harmless: 6.12 appends {@code __u32 pad} to vfio_device_info (caps alignment). The struct is
     * argsz-versioned: the kernel reads argsz, needs only up to num_irqs, and writes no field past what argsz allows.
     */
    private static final List<String> KNOWN = List.of("struct vfio_device_info: this {sizeof=24, argsz=0, flags=4, num_regions=8, num_irqs=12, "
            + "cap_offset=16}, other {sizeof=20, argsz=0, flags=4, num_regions=8, num_irqs=12, cap_offset=16}");

    @Test
    void theShimAndTheJavaMirrorsAgreeWithTheBuiltKernelsUapiHeaders() throws Exception {
        Path headers = VmHarness.kernelDir(Kernel.CUSTOM_6_12).resolve("headers");
        assertThat(headers.resolve("linux/iommufd.h")).as("the built kernel's exported headers (build-custom-kernel.sh keeps them)").isRegularFile();

        AbiReport kernel = AbiReport.parse(compileAndRun(headers));
        assertThat(kernel.constants()).containsKeys("IOMMU_IOAS_MAP", "VFIO_DEVICE_BIND_IOMMUFD", "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
        assertThat(kernel.structs()).containsKeys("iommu_ioas_map", "vfio_device_bind_iommufd", "vfio_device_info");

        List<String> shim = kernel.differences(AbiReport.ofShim());
        List<String> mirrors = kernel.differences(AbiReport.ofJavaMirrors());
        System.out.println("[abi] kernel headers " + headers.toRealPath() + ": " + kernel.structs().size() + " structs, "
                + kernel.constants().size() + " constants; vs shim " + shim + "; vs Java mirrors " + mirrors);
        assertThat(shim).as("kernel headers (this) vs vb_uapi.h as built into the shim (other)").containsExactlyElementsOf(KNOWN);
        assertThat(mirrors).as("kernel headers (this) vs the Java mirrors (other)").containsExactlyElementsOf(KNOWN);
    }

    /** abi.c over the kernel's headers first, with linux/iommufd.h included as the kernel ships it. */
    private static String compileAndRun(Path headers) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("vb-abi-");
        Path main = dir.resolve("main.c");
        Files.writeString(main, """
                #include <stdio.h>
                #include <stdlib.h>
                long vb_abi_report(char *buf, long cap);
                int main(void) { long n = vb_abi_report(NULL, 0); char *b = malloc(n); vb_abi_report(b, n); fputs(b, stdout); return 0; }
                """);
        Path exe = dir.resolve("abi");
        run(dir, "gcc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", headers.toString(), "-include", "linux/iommufd.h",
                "-o", exe.toString(), ABI_C.toString(), main.toString());
        return run(dir, exe.toString());
    }

    private static String run(Path dir, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s ended", cmd[0]).isTrue();
        assertThat(p.exitValue()).as("%s exit status; output:%n%s", String.join(" ", cmd), out).isZero();
        return out;
    }
}
