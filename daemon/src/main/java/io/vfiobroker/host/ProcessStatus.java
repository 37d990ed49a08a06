package io.vfiobroker.host;

import java.util.ArrayList;
import java.util.List;

/**
 * The facts of /proc/PID/status the daemon decides on. Ids are the real ones (first column); -1 when the line is
 * missing or unparsable, so an unknown id never equals a real one.
 */
public record ProcessStatus(int uid, int gid, List<Integer> groups, long vmLckBytes, long vmPinBytes, long capEff) {

    public ProcessStatus {
        groups = List.copyOf(groups);
    }

    public static ProcessStatus parse(String text) {
        int uid = -1;
        int gid = -1;
        List<Integer> groups = new ArrayList<>();
        long lck = 0;
        long pin = 0;
        long cap = 0;
        // Read on every grant (memlock in use): split by hand, and only the lines decided on, not all 55.
        for (int at = 0, end; at < text.length(); at = end + 1) {
            end = text.indexOf('\n', at);
            if (end < 0) end = text.length();
            int colon = text.indexOf(':', at);
            if (colon < 0 || colon > end) continue;
            switch (key(text, at, colon)) {
                case "Uid" -> uid = (int) number(first(text, colon + 1, end), 10, -1);
                case "Gid" -> gid = (int) number(first(text, colon + 1, end), 10, -1);
                case "Groups" -> {
                    for (String g : text.substring(colon + 1, end).trim().split("[ \t]+")) {
                        if (!g.isEmpty() && number(g, 10, -1) >= 0) groups.add((int) number(g, 10, -1));
                    }
                }
                case "VmLck" -> lck = number(first(text, colon + 1, end), 10, 0) * 1024;
                case "VmPin" -> pin = number(first(text, colon + 1, end), 10, 0) * 1024;
                case "CapEff" -> cap = number(first(text, colon + 1, end), 16, -1);
                default -> {
                }
            }
        }
        return new ProcessStatus(uid, gid, groups, lck, pin, cap);
    }

    private static final List<String> KEYS = List.of("Uid", "Gid", "Groups", "VmLck", "VmPin", "CapEff");

    /** The line's key when it is one decided on, else "": no substring for the other 50 lines. */
    private static String key(String text, int at, int colon) {
        for (String k : KEYS) if (colon - at == k.length() && text.startsWith(k, at)) return k;
        return "";
    }

    /** The first blank-separated word of text[from, to). */
    private static String first(String text, int from, int to) {
        while (from < to && Character.isWhitespace(text.charAt(from))) from++;
        int stop = from;
        while (stop < to && !Character.isWhitespace(text.charAt(stop))) stop++;
        return text.substring(from, stop);
    }

    /** Whether the effective capability set has {@code bit} (CAP_SYS_RESOURCE = 24); true when unknown. */
    public boolean hasCapability(int bit) {
        return capEff == -1 || (capEff & (1L << bit)) != 0;
    }

    private static long number(String s, int radix, long otherwise) {
        try {
            return Long.parseUnsignedLong(s, radix);
        } catch (NumberFormatException e) {
            return otherwise;
        }
    }
}
