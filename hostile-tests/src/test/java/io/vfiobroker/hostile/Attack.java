package io.vfiobroker.hostile;

import io.vfiobroker.hostile.Stand.Result;
import io.vfiobroker.hostile.Stand.Who;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One row of the suite: who does what, and how the daemon must refuse it. {@code command} may name values a
 * {@code setup} step produced as {@code {name}}. With a {@code probe}, the attack runs in the background (until
 * it prints a first line) while the probe — a legitimate user's request — runs; the expectation then sees both.
 */
record Attack(String name, String point, Who who, Function<Stand, List<String>> command, Expect expect,
              Setup setup, Who probeWho, Function<Stand, List<String>> probe, Duration timeout, Pattern stopWhen,
              long auditAllowance, boolean legitimateTraffic) {

    /** Answers null when the daemon refused as expected, else what the attacker got. */
    interface Expect {
        String problem(Result attack, Result probe);
    }

    /** Legitimate activity an attack needs first (a ticket to steal, a lease to watch); may leave processes to close. */
    interface Setup {
        Map<String, String> run(Stand s, List<Stand.Background> keep) throws Exception;
    }

    static final long DEFAULT_AUDIT_ALLOWANCE = 16 << 10;

    static Attack of(String name, String point, Who who, Function<Stand, List<String>> command, Expect expect) {
        return new Attack(name, point, who, command, expect, null, null, null, Duration.ofSeconds(30), null, DEFAULT_AUDIT_ALLOWANCE, false);
    }

    Attack withSetup(Setup s) {
        return new Attack(name, point, who, command, expect, s, probeWho, probe, timeout, stopWhen, auditAllowance, true);
    }

    Attack during(Who w, Function<Stand, List<String>> p) {
        return new Attack(name, point, who, command, expect, setup, w, p, timeout, stopWhen, auditAllowance, true);
    }

    Attack timeout(Duration t, Pattern stop) {
        return new Attack(name, point, who, command, expect, setup, probeWho, probe, t, stop, auditAllowance, legitimateTraffic);
    }

    Attack auditAllowance(long bytes) {
        return new Attack(name, point, who, command, expect, setup, probeWho, probe, timeout, stopWhen, bytes, legitimateTraffic);
    }

    // ---- expectations

    private static final Pattern HTTP_STATUS = Pattern.compile("(?m)^HTTP (\\d{3})$");

    static int status(Result r) {
        Matcher m = HTTP_STATUS.matcher(r.stdout());
        int last = 0;
        while (m.find()) last = Integer.parseInt(m.group(1));
        return last;
    }

    static String body(Result r) {
        int i = r.stdout().lastIndexOf("\nHTTP ");
        return (i < 0 ? r.stdout() : r.stdout().substring(0, i)).strip();
    }

    /** Refused with one of {@code codes} and a body that says why. */
    static Expect http(int... codes) {
        return (r, p) -> {
            int st = status(r);
            if (Arrays.stream(codes).noneMatch(c -> c == st)) return "HTTP " + st + " (wanted " + Arrays.toString(codes) + "): " + clip(body(r));
            if (body(r).isBlank()) return "HTTP " + st + " without a word of why";
            return null;
        };
    }

    /** Refused as {@link #http}, or answered 200 with nothing the caller may not see ({@code clean} holds on the body). */
    static Expect httpOrOnlyOwn(Predicate<String> clean, String leak, int... codes) {
        Expect refused = http(codes);
        return (r, p) -> {
            if (status(r) == 200) return clean.test(body(r)) ? null : "HTTP 200 with " + leak + ": " + clip(body(r));
            return refused.problem(r, p);
        };
    }

    /** The gRPC call failed with {@code code} and a description. */
    static Expect grpc(String... codes) {
        return (r, p) -> {
            Matcher m = Pattern.compile("(?m)^ERROR (\\S+) (.*)$").matcher(r.stdout());
            if (!m.find()) return "not refused: " + clip(r.stdout() + r.stderr());
            if (Arrays.stream(codes).noneMatch(m.group(1)::equals)) return "refused as " + m.group(1) + " (wanted " + String.join("/", codes) + "): " + m.group(2);
            if (m.group(2).isBlank()) return m.group(1) + " without a description";
            return null;
        };
    }

    /** Refused as {@link #grpc}, or an OK line that {@code clean} accepts. */
    static Expect grpcOrOnlyOwn(Predicate<String> clean, String leak, String... codes) {
        Expect refused = grpc(codes);
        return (r, p) -> {
            Matcher m = Pattern.compile("(?m)^OK.*$").matcher(r.stdout());
            if (m.find()) return clean.test(m.group()) ? null : "answered with " + leak + ": " + clip(m.group());
            return refused.problem(r, p);
        };
    }

    /** `vfio-broker client` printed {"error": CODE, "message": ...} and exited non-zero. */
    static Expect client(String... codes) {
        return (r, p) -> {
            Matcher m = Pattern.compile("\"error\":\"([A-Z_]+)\",\"message\":\"([^\"]*)\"").matcher(r.stdout());
            if (!m.find()) return "not refused (exit " + r.exit() + "): " + clip(r.stdout() + r.stderr());
            if (Arrays.stream(codes).noneMatch(m.group(1)::equals)) return "refused as " + m.group(1) + " (wanted " + String.join("/", codes) + "): " + m.group(2);
            if (m.group(2).isBlank() || r.exit() == 0) return m.group(1) + " without a description, or exit 0";
            return null;
        };
    }

    /** fd.sock sent no fds and said why (or, with {@code hangUpOk}, hung up: a message it cannot read at all). */
    static Expect fdRefused(boolean hangUpOk) {
        return (r, p) -> {
            Matcher m = Pattern.compile("(?m)^FD (\\S+) fds=(\\d+) lease=(\\S+) error=(.*)$").matcher(r.stdout());
            if (!m.find()) return "no answer from fd.sock: " + clip(r.stdout() + r.stderr());
            if (!m.group(2).equals("0")) return "received " + m.group(2) + " fds of lease " + m.group(3);
            if (m.group(1).equals("reply") && !m.group(4).equals("-")) return null;
            if (hangUpOk && m.group(1).equals("closed")) return null;
            return "fd.sock answered '" + m.group(1) + "' without an error (" + clip(r.stdout()) + ")";
        };
    }

    /** The daemon hung up on (or answered) a connection that sends nothing, within {@code ms}. */
    static Expect fdDropsSilentWithin(long ms) {
        return (r, p) -> {
            if (r.stdout().contains("FD timeout")) return "a silent connection was still held after " + r.millis() + " ms";
            if (!r.stdout().matches("(?s).*FD (reply|closed) fds=0.*")) return "unexpected: " + clip(r.stdout() + r.stderr());
            return r.millis() <= ms ? null : "dropped only after " + r.millis() + " ms (wanted <= " + ms + ")";
        };
    }

    /** The probe — a legitimate user's request during the attack — completed, and the attack itself met a limit. */
    static Expect othersStillServed(Predicate<Result> probeOk, String probeWhat, Pattern attackerRefused, String limitWhat) {
        return (r, p) -> {
            if (p == null || !probeOk.test(p)) return probeWhat + " failed during the attack: " + (p == null ? "no probe" : clip(p.all()) + " (" + p.millis() + " ms)");
            if (attackerRefused != null && !attackerRefused.matcher(r.stdout()).find()) return "no " + limitWhat + ": " + clip(r.stdout());
            return null;
        };
    }

    /** The command failed (exit != 0) saying so in words matching {@code why}. */
    static Expect fails(Pattern why) {
        return (r, p) -> {
            if (r.exit() == 0) return "exit 0: " + clip(r.stdout());
            if (r.exit() == -1) return "still running when stopped: " + clip(r.stderr());
            return why.matcher(r.stdout() + r.stderr()).find() ? null : "failed (exit " + r.exit() + ") without saying why: " + clip(r.stdout() + r.stderr());
        };
    }

    static String clip(String s) {
        String one = s.replaceAll("\\s+", " ").strip();
        return one.length() > 300 ? one.substring(0, 300) + "…" : one;
    }
}
