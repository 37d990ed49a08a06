package io.vfiobroker.e2e;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The parts of e2e/README.md that say what the suite runs, generated from the suite itself: one row per real-kernel
 * test, with its boot and script ({@link Part}) and the boots its {@code @MethodSource} gives by default; and the
 * timings of one run, read from its results directory.
 */
final class SuiteReadme {

    static final List<Class<?>> SUITE = List.of(InventoryIT.class, BrokerIT.class, GrantIT.class, RevokeIT.class, DraIT.class,
            KernelHeadersAbiIT.class, HarnessIT.class);
    static final String TABLE = "scenarios";
    static final String TIMINGS = "timings";

    private SuiteReadme() {
    }

    /** | what it checks | boot: script | boots by default | test |, in the suite's order. */
    static String scenarioTable() {
        StringBuilder out = new StringBuilder("| what it checks | boot: script | runs on, by default | test |\n|---|---|---|---|\n");
        for (Class<?> c : SUITE) {
            Part onClass = c.getAnnotation(Part.class);
            List<Method> tests = Arrays.stream(c.getDeclaredMethods())
                    .filter(m -> m.isAnnotationPresent(Test.class) || m.isAnnotationPresent(ParameterizedTest.class))
                    .sorted(Comparator.comparingInt(SuiteReadme::sourceOrder).thenComparing(Method::getName)).toList();
            if (tests.isEmpty()) throw new IllegalStateException(c.getSimpleName() + " has no tests");
            for (Method m : tests) {
                Part p = m.getAnnotation(Part.class);
                String boot = p != null && !p.boot().isEmpty() ? p.boot() : onClass == null ? "" : onClass.boot();
                String script = p != null && !p.script().isEmpty() ? p.script() : onClass == null ? "" : onClass.script();
                if (script.isEmpty()) throw new IllegalStateException(c.getSimpleName() + "." + m.getName() + " names no @Part script");
                out.append("| ").append(sentence(m.getName())).append(" | ")
                        .append(boot.isEmpty() ? "" : "`" + boot + "`: ").append("`").append(script).append("` | ")
                        .append(boots(m)).append(" | `").append(c.getSimpleName()).append('.').append(m.getName()).append("` |\n");
            }
        }
        return out.toString();
    }

    /** The boots a parameterized test gets with no -De2e.* property set; a plain test runs once. */
    private static String boots(Method m) {
        MethodSource src = m.getAnnotation(MethodSource.class);
        if (src == null) {
            Part p = m.isAnnotationPresent(Part.class) ? m.getAnnotation(Part.class) : m.getDeclaringClass().getAnnotation(Part.class);
            if (p == null || p.on().isEmpty()) throw new IllegalStateException(m + " is not parameterized and its @Part names no 'on'");
            return p.on();
        }
        String ref = src.value()[0];
        try {
            Class<?> owner = ref.contains("#") ? Class.forName(ref.substring(0, ref.indexOf('#'))) : m.getDeclaringClass();
            Method factory = owner.getDeclaredMethod(ref.contains("#") ? ref.substring(ref.indexOf('#') + 1) : ref);
            factory.setAccessible(true);
            @SuppressWarnings("unchecked")
            List<String> boots = ((Stream<Arguments>) factory.invoke(null)).map(a -> a.get()[0] + " × " + ((Iommu) a.get()[1]).arg()).toList();
            if (boots.isEmpty() && ref.endsWith("#crash")) return "only with `-De2e.crashPoints=true` (then as `leases`)";
            return boots.isEmpty() ? "none" : String.join(", ", boots);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot evaluate @MethodSource " + ref + " of " + m, e);
        }
    }

    /** Declaration order is not what reflection gives: the line of the method's name in its source. */
    private static int sourceOrder(Method m) {
        Path src = Path.of(System.getProperty("e2e.moduleDir", ".")).resolve("src/test/java/io/vfiobroker/e2e/" + m.getDeclaringClass().getSimpleName() + ".java");
        try {
            List<String> lines = Files.readAllLines(src);
            for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains(" " + m.getName() + "(")) return i;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + src, e);
        }
        return Integer.MAX_VALUE;
    }

    /** "aClientThatClosesItsFds" → "a client that closes its fds"; "scenario2Binding…" → "2: binding…". */
    static String sentence(String camel) {
        String s = camel.replaceFirst("^scenario(\\d)", "$1: ");
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (Character.isUpperCase(ch) && i > 0 && s.charAt(i - 1) != ' ') out.append(' ');
            out.append(Character.toLowerCase(ch));
        }
        return out.toString();
    }

    /** One row per boot of the run in {@code results}: its exit status, its time and its parts' times. */
    static String timings(Path results, String run) throws IOException {
        StringBuilder out = new StringBuilder("Measured in " + run + ":\n\n| boot | exit | boot to power-off | parts |\n|---|---|---|---|\n");
        List<Path> boots;
        try (Stream<Path> s = Files.list(results)) {
            boots = s.filter(Files::isDirectory).filter(d -> Files.isRegularFile(d.resolve("exit-status"))).sorted().toList();
        }
        if (boots.isEmpty()) throw new IllegalArgumentException(results + " holds no boot (no */exit-status)");
        for (Path b : boots) {
            String took = Files.isRegularFile(b.resolve("boot-seconds")) ? Files.readString(b.resolve("boot-seconds")).strip() + " s" : "not recorded";
            List<String> parts = new ArrayList<>();
            if (Files.isRegularFile(b.resolve("part-times.txt"))) {
                for (String l : Files.readAllLines(b.resolve("part-times.txt"))) {
                    String[] f = l.split(":\\s*|\\s+ms");
                    if (f.length >= 2) parts.add(f[0] + " " + Math.round(Long.parseLong(f[1].strip()) / 1000.0) + " s");
                }
            }
            out.append("| ").append(b.getFileName()).append(" | ").append(Files.readString(b.resolve("exit-status")).strip()).append(" | ")
                    .append(took).append(" | ").append(String.join(", ", parts)).append(" |\n");
        }
        return out.toString();
    }

    /** The text between {@code <!-- generated: NAME -->} and {@code <!-- end generated: NAME -->}. */
    static String section(String readme, String name) {
        String begin = "<!-- generated: " + name + " -->\n";
        String end = "<!-- end generated: " + name + " -->";
        int a = readme.indexOf(begin);
        int b = readme.indexOf(end);
        if (a < 0 || b < a) throw new IllegalStateException("e2e/README.md has no generated section '" + name + "'");
        return readme.substring(a + begin.length(), b);
    }

    static String replace(String readme, String name, String body) {
        String old = section(readme, name);
        String begin = "<!-- generated: " + name + " -->\n";
        int a = readme.indexOf(begin) + begin.length();
        return readme.substring(0, a) + body + readme.substring(a + old.length());
    }
}
