package io.vfiobroker.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The shell of a bench that records its own run: a work directory on disk (below /var/tmp, not tmpfs: the daemon's
 * state is fsynced there as in production), deleted afterwards; the run written to its results file even when the
 * bench fails; the bench's exit code as the process's.
 */
final class RecordedRun {

    /** A bench body: returns its exit code (nonzero: a target the bench enforces was missed). */
    interface Body {
        int run(Path workDir) throws Exception;
    }

    private RecordedRun() {
    }

    static void exec(BenchResults results, String prefix, Body body) throws Exception {
        Path dir = Files.createTempDirectory(Path.of("/var/tmp"), prefix);
        results.param("workDir", dir.toString());
        int code;
        try {
            code = body.run(dir);
        } catch (Exception | Error e) {
            e.printStackTrace();
            results.param("failed", String.valueOf(e));
            code = 1;
        }
        results.write(); // before the clean-up: deleting an 8321-device tree takes minutes on a loaded disk
        deleteTree(dir);
        System.exit(code); // client pipes, SSE watchers and gRPC event loops leave non-daemon threads behind
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
