package io.vfiobroker.nativeshim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Which processes have an fd whose /proc link reads as one of a few texts: one native pass over /proc. */
public final class FdLinks {

    /** fd {@code fd} of {@code pid} links to {@code targets.get(target)}. */
    public record Match(int pid, int fd, int target) {
    }

    /** What one pass takes (the C side's table). */
    public static final int MAX_TARGETS = 64;
    private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[16 * 1024]);

    private FdLinks() {
    }

    /** Every fd of every process under {@code proc} but {@code skipPid} whose link text is one of {@code targets}. */
    public static List<Match> find(String proc, List<String> targets, int skipPid) {
        if (targets.isEmpty()) return List.of();
        if (targets.size() > MAX_TARGETS) throw new IllegalArgumentException("at most " + MAX_TARGETS + " link texts per scan, not " + targets.size());
        StringBuilder sb = new StringBuilder();
        for (String t : targets) {
            if (t.isEmpty() || t.indexOf('\0') >= 0) throw new IllegalArgumentException("a link text is neither empty nor holds NUL: '" + t + "'");
            sb.append(t).append('\0');
        }
        byte[] names = sb.append('\0').toString().getBytes(StandardCharsets.UTF_8);
        byte[] out = BUFFER.get();
        long n;
        while ((n = Shim.vb_fd_scan(proc, names, skipPid, out, out.length)) == -Errno.ENOBUFS) {
            out = new byte[out.length * 4];
            BUFFER.set(out);
        }
        if (n < 0) throw new NativeException("fd scan", (int) -n, proc);
        List<Match> found = new ArrayList<>();
        for (String line : new String(out, 0, (int) n, StandardCharsets.US_ASCII).split("\n")) {
            if (line.isEmpty()) continue;
            String[] f = line.split(" ");
            found.add(new Match(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2])));
        }
        return found;
    }
}
