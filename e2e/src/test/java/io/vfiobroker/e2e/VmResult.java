package io.vfiobroker.e2e;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;

/** What one VM left in its results directory, with the diagnostics a failing assertion needs. */
public record VmResult(Kernel kernel, Iommu iommu, String scenario, Path dir, int exitCode, Duration took) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Fails unless the guest ran the scenario to the end with status 0. */
    public VmResult requireSuccess() {
        if (exitCode != 0) {
            String why = switch (exitCode) {
                case 124 -> "timed out (the VM, or the scenario inside it: see scenario.log)";
                case 125 -> "the guest ended without writing an exit status (init failed or kernel panicked)";
                default -> "exit " + exitCode + " (the scenario's, or run-vm.sh's own failure: see its log)";
            };
            throw new AssertionError(this + ": " + why
                    + "\n--- run-vm.sh log (tail)\n" + VmHarness.tail(dir.resolveSibling(dir.getFileName() + ".run.log"), 15)
                    + "\n--- scenario.log (tail)\n" + VmHarness.tail(dir.resolve("scenario.log"), 40)
                    + "\n--- console.log (tail)\n" + VmHarness.tail(dir.resolve("console.log"), 40));
        }
        return this;
    }

    public Path file(String name) {
        Path p = dir.resolve(name);
        if (!Files.exists(p)) throw new AssertionError(this + ": the guest wrote no " + name + " (see " + dir + ")");
        return p;
    }

    public String text(String name) {
        try {
            return Files.readString(file(name));
        } catch (IOException e) {
            throw new AssertionError(this + ": cannot read " + name, e);
        }
    }

    /** Names of the files in a results subdirectory (empty when it does not exist). */
    public java.util.List<String> files(String subdir) {
        try (var s = Files.list(dir.resolve(subdir))) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return java.util.List.of();
        }
    }

    public Properties properties(String name) {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(file(name))) {
            props.load(r);
        } catch (IOException e) {
            throw new AssertionError(this + ": cannot read " + name, e);
        }
        return props;
    }

    /**
     * Output of a command the scenario ran with record(): fails with its stderr unless it exited 0
     * and wrote JSON.
     */
    public JsonNode commandJson(String name) {
        int rc = Integer.parseInt(text(name + ".rc").trim());
        if (rc != 0) {
            throw new AssertionError(this + ": '" + name + "' exited " + rc + " in the guest; stderr:\n" + text(name + ".err"));
        }
        try {
            return JSON.readTree(file(name + ".json").toFile());
        } catch (RuntimeException e) {
            throw new AssertionError(this + ": '" + name + "' wrote no valid JSON: " + e.getMessage() + "\nstderr:\n" + text(name + ".err"), e);
        }
    }

    @Override
    public String toString() {
        return scenario + " on " + kernel + " " + iommu;
    }
}
