package io.vfiobroker.inventory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Vendor and device names from the pci.ids database (Debian's pciutils/hwdata ship it). Held as sorted numeric keys
 * and one Latin-1 byte array of names, not as maps of strings: 0.8 MB of the daemon's heap instead of 3.5 MB.
 */
public final class PciIds {

    public static final List<Path> DEFAULT_LOCATIONS = List.of(
            Path.of("/usr/share/misc/pci.ids"), Path.of("/usr/share/hwdata/pci.ids"));

    private static final PciIds EMPTY = new PciIds(new Table(), new Table());
    private static volatile PciIds system;

    private final Table vendors; // key vvvv
    private final Table devices; // key vvvvdddd

    private PciIds(Table vendors, Table devices) {
        this.vendors = vendors;
        this.devices = devices;
    }

    /** The first database found, parsed once per process; empty names when none is installed. */
    public static PciIds system() {
        PciIds ids = system;
        if (ids == null) {
            synchronized (PciIds.class) {
                if (system == null) {
                    system = DEFAULT_LOCATIONS.stream().filter(Files::isReadable).findFirst()
                            .map(PciIds::loadQuietly).orElse(EMPTY);
                }
                ids = system;
            }
        }
        return ids;
    }

    public static PciIds empty() {
        return EMPTY;
    }

    private static PciIds loadQuietly(Path file) {
        try {
            return load(file);
        } catch (IOException e) {
            return EMPTY;
        }
    }

    /** Parses vendor lines ("vvvv  Name") and device lines ("\tdddd  Name"); subsystems and classes are skipped. */
    public static PciIds load(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        Table vendors = new Table();
        Table devices = new Table();
        int vendor = -1;
        for (int at = 0, end; at < b.length; at = end + 1) {
            end = at;
            while (end < b.length && b[end] != '\n') end++;
            int len = end - at;
            if (len == 0 || b[at] == '#') continue;
            if (len > 1 && b[at] == 'C' && b[at + 1] == ' ') break; // the class section ends the vendor list
            if (b[at] != '\t') {
                vendor = len > 6 ? hex4(b, at) : -1;
                if (vendor >= 0) vendors.add(vendor, b, at + 4, end);
            } else if (vendor >= 0 && len > 7 && b[at + 1] != '\t') {
                int device = hex4(b, at + 1);
                if (device >= 0) devices.add(vendor << 16 | device, b, at + 5, end);
            }
        }
        return new PciIds(vendors.done(), devices.done());
    }

    /** Four hex digits as a number, or -1. */
    private static int hex4(byte[] b, int from) {
        int v = 0;
        for (int i = from; i < from + 4; i++) {
            int d = Character.digit(b[i], 16);
            if (d < 0) return -1;
            v = v << 4 | d;
        }
        return v;
    }

    /** Four lowercase hex digits (as sysfs writes them) as a number, or -1: other spellings name nothing. */
    private static int id(String s) {
        if (s == null || s.length() != 4) return -1;
        int v = 0;
        for (int i = 0; i < 4; i++) {
            char c = s.charAt(i);
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v << 4 | d;
        }
        return v;
    }

    public Optional<String> vendor(String vendorId) {
        int v = id(vendorId);
        return v < 0 ? Optional.empty() : vendors.name(v);
    }

    public Optional<String> device(String vendorId, String deviceId) {
        int v = id(vendorId);
        int d = id(deviceId);
        return v < 0 || d < 0 ? Optional.empty() : devices.name(v << 16 | d);
    }

    /** Names by key: entries in file order while loading, then sorted by key (a repeated key: the last one wins). */
    private static final class Table {
        private long[] order = new long[1024]; // key << 32 | entry, sorted by done()
        private int[] starts = new int[1025];
        private byte[] names = new byte[16 * 1024];
        private int size;

        void add(int key, byte[] line, int from, int to) {
            while (from < to && (line[from] & 0xff) <= ' ') from++; // strip, as String.strip did for these ASCII lines
            while (to > from && (line[to - 1] & 0xff) <= ' ') to--;
            if (size == order.length) {
                order = Arrays.copyOf(order, size * 2);
                starts = Arrays.copyOf(starts, size * 2 + 1);
            }
            int at = starts[size];
            if (at + (to - from) > names.length) names = Arrays.copyOf(names, Math.max(names.length * 2, at + (to - from)));
            System.arraycopy(line, from, names, at, to - from);
            order[size] = (long) key << 32 | size;
            starts[++size] = at + (to - from);
        }

        Table done() {
            order = Arrays.copyOf(order, size);
            Arrays.sort(order);
            starts = Arrays.copyOf(starts, size + 1);
            names = Arrays.copyOf(names, starts[size]);
            return this;
        }

        Optional<String> name(int key) {
            int i = Arrays.binarySearch(order, (long) key << 32 | 0xffffffffL);
            i = i >= 0 ? i : -i - 2; // the last entry at or below key << 32 | max
            if (i < 0 || (int) (order[i] >>> 32) != key) return Optional.empty();
            int entry = (int) order[i];
            return Optional.of(new String(names, starts[entry], starts[entry + 1] - starts[entry], StandardCharsets.ISO_8859_1));
        }
    }
}
