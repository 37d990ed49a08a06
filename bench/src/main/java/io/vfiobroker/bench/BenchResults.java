package io.vfiobroker.bench;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One bench run, appended to {@code bench/results/<name>.json} (property {@code bench.results} names the directory):
 * the machine, the commit, the date, the parameters, the numbers a bench records and every line it printed, so a
 * README row can name the run it came from. Every run is kept, not only the best.
 */
public final class BenchResults {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final String name;
    private final Instant started = Instant.now();
    private final Map<String, Object> params = new LinkedHashMap<>();
    private final Map<String, Object> numbers = new LinkedHashMap<>();
    private final List<String> output = Collections.synchronizedList(new ArrayList<>());
    private final String loadBefore = loadAverage();
    /** At the start: the checkout may move on while a long run measures what was built before. */
    private final Map<String, Object> gitAtStart = git(Path.of(System.getProperty("bench.repo", "bench/results")));
    private boolean written;

    private BenchResults(String name) {
        this.name = name;
    }

    /** A run of bench {@code name} whose printed lines (System.out from now on) are kept too. */
    public static BenchResults open(String name) {
        BenchResults r = new BenchResults(name);
        System.setOut(new PrintStream(new Tee(System.out, r.output), true, StandardCharsets.UTF_8));
        return r;
    }

    public BenchResults param(String key, Object value) {
        params.put(key, value);
        return this;
    }

    public BenchResults number(String key, Number value) {
        numbers.put(key, value);
        return this;
    }

    /** Appends this run to the results file, once; later calls do nothing. */
    public synchronized Path write() {
        if (written) return null;
        written = true;
        Path dir = Path.of(System.getProperty("bench.results", "bench/results")).toAbsolutePath();
        Path file = dir.resolve(name + ".json");
        try {
            Files.createDirectories(dir);
            ObjectNode root;
            if (Files.exists(file)) {
                root = (ObjectNode) JSON.readTree(file.toFile());
            } else {
                root = JSON.createObjectNode();
                root.put("bench", name);
                root.putArray("runs");
            }
            ObjectNode run = ((ArrayNode) root.get("runs")).addObject();
            run.put("started", started.toString());
            run.put("finished", Instant.now().toString());
            run.set("machine", JSON.valueToTree(machine()));
            run.put("loadAverageBefore", loadBefore);
            run.put("loadAverageAfter", loadAverage());
            run.set("git", JSON.valueToTree(gitAtStart));
            run.set("params", JSON.valueToTree(params));
            run.set("numbers", JSON.valueToTree(numbers));
            synchronized (output) {
                run.set("output", JSON.valueToTree(new ArrayList<>(output)));
            }
            JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), root);
            System.err.println("bench results: " + file + " (run " + root.get("runs").size() + ")");
            return file;
        } catch (IOException | RuntimeException e) {
            System.err.println("bench results: cannot write " + file + ": " + e);
            return null;
        }
    }

    static Map<String, Object> machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("nproc", Runtime.getRuntime().availableProcessors());
        m.put("cpuModel", firstField(Path.of("/proc/cpuinfo"), "model name"));
        m.put("memTotal", firstField(Path.of("/proc/meminfo"), "MemTotal"));
        m.put("kernel", read(Path.of("/proc/sys/kernel/osrelease")));
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        return m;
    }

    private static Map<String, Object> git(Path inRepo) {
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("commit", run(inRepo, "git", "rev-parse", "HEAD"));
        String status = run(inRepo, "git", "status", "--porcelain", "--untracked-files=no");
        g.put("dirty", status == null ? null : !status.isBlank()); // a run on uncommitted code says so
        return g;
    }

    private static String loadAverage() {
        return read(Path.of("/proc/loadavg"));
    }

    private static String firstField(Path file, String key) {
        try {
            for (String l : Files.readAllLines(file)) {
                int colon = l.indexOf(':');
                if (colon > 0 && l.substring(0, colon).trim().equals(key)) return l.substring(colon + 1).trim();
            }
        } catch (IOException e) {
            return null;
        }
        return null;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).trim();
        } catch (IOException e) {
            return null;
        }
    }

    private static String run(Path dir, String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Prints through and keeps each completed line. */
    private static final class Tee extends OutputStream {
        private final OutputStream out;
        private final List<String> lines;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Tee(OutputStream out, List<String> lines) {
            this.out = out;
            this.lines = lines;
        }

        @Override
        public synchronized void write(int b) throws IOException {
            out.write(b);
            if (b == '\n') {
                lines.add(line.toString(StandardCharsets.UTF_8));
                line.reset();
            } else {
                line.write(b);
            }
        }

        @Override
        public synchronized void flush() throws IOException {
            out.flush();
        }
    }

    /**
     * Runs a bench that knows nothing of this class and records it: {@code NAME MAIN_CLASS ARGS...}. The run is written
     * at exit too, so a bench that calls System.exit is recorded as well.
     */
    public static void main(String[] args) throws Throwable {
        if (args.length < 2) throw new IllegalArgumentException("usage: BenchResults NAME MAIN_CLASS [ARGS...]");
        String[] benchArgs = Arrays.copyOfRange(args, 2, args.length);
        BenchResults r = open(args[0]).param("mainClass", args[1]).param("args", List.of(benchArgs));
        Thread atExit = new Thread(r::write, "bench-results");
        Runtime.getRuntime().addShutdownHook(atExit);
        try {
            Class.forName(args[1]).getMethod("main", String[].class).invoke(null, (Object) benchArgs);
        } catch (InvocationTargetException e) {
            r.param("failed", String.valueOf(e.getCause()));
            throw e.getCause();
        } finally {
            r.write();
        }
    }
}
