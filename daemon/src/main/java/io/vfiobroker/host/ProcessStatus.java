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
        for (String line : text.lines().toList()) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String[] f = line.substring(colon + 1).trim().split("\\s+");
            switch (line.substring(0, colon)) {
                case "Uid" -> uid = (int) number(f[0], 10, -1);
                case "Gid" -> gid = (int) number(f[0], 10, -1);
                case "Groups" -> {
                    for (String g : f) if (!g.isEmpty() && number(g, 10, -1) >= 0) groups.add((int) number(g, 10, -1));
                }
                case "VmLck" -> lck = number(f[0], 10, 0) * 1024;
                case "VmPin" -> pin = number(f[0], 10, 0) * 1024;
                case "CapEff" -> cap = number(f[0], 16, -1);
                default -> {
                }
            }
        }
        return new ProcessStatus(uid, gid, groups, lck, pin, cap);
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
