package io.vfiobroker.nativeshim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One sysfs directory read in a single native call: its entries, the text attributes asked for (trimmed) and
 * the targets of the links asked for. Missing attributes are simply absent.
 */
public record SysfsSnapshot(List<String> entries, Map<String, String> files, Map<String, String> links) {

    private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[64 * 1024]);

    /**
     * Reads {@code dir}. {@code linkPrefix} (may be empty) also resolves every entry whose name starts with it.
     * Empty when the directory does not exist.
     */
    public static Optional<SysfsSnapshot> read(String dir, List<String> files, List<String> links, String linkPrefix, boolean list) {
        byte[] out = BUFFER.get();
        long n = Shim.vb_sysfs_snapshot(dir, names(files), names(links), linkPrefix, list ? 1 : 0, out, out.length);
        if (n == -Errno.ENOBUFS) {
            out = new byte[out.length * 4];
            BUFFER.set(out);
            n = Shim.vb_sysfs_snapshot(dir, names(files), names(links), linkPrefix, list ? 1 : 0, out, out.length);
        }
        if (n < 0) {
            if (n == -Errno.ENOENT || n == -Errno.ENOTDIR) return Optional.empty();
            throw new NativeException("sysfs snapshot", (int) -n, dir);
        }
        List<String> entries = new ArrayList<>();
        Map<String, String> fileValues = new HashMap<>();
        Map<String, String> linkValues = new HashMap<>();
        int p = 0;
        while (p < n) {
            byte tag = out[p++];
            int nameEnd = p;
            while (out[nameEnd] != 0) nameEnd++;
            String name = new String(out, p, nameEnd - p, StandardCharsets.UTF_8);
            int valStart = nameEnd + 1;
            int valEnd = valStart;
            while (out[valEnd] != 0) valEnd++;
            switch (tag) {
                case 'E' -> entries.add(name);
                case 'F' -> fileValues.put(name, new String(out, valStart, valEnd - valStart, StandardCharsets.UTF_8));
                case 'L' -> linkValues.put(name, new String(out, valStart, valEnd - valStart, StandardCharsets.UTF_8));
                default -> throw new IllegalStateException("sysfs snapshot: unknown record tag " + tag);
            }
            p = valEnd + 1;
        }
        return Optional.of(new SysfsSnapshot(entries, fileValues, linkValues));
    }

    private static byte[] names(List<String> names) {
        StringBuilder sb = new StringBuilder();
        for (String s : names) {
            if (s.isEmpty() || s.indexOf('\0') >= 0 || s.indexOf('/') >= 0) {
                throw new IllegalArgumentException("sysfs attribute name '" + s + "' must be one non-empty path component");
            }
            sb.append(s).append('\0');
        }
        sb.append('\0');
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }
}
