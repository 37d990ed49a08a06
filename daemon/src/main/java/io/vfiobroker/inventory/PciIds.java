package io.vfiobroker.inventory;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Vendor and device names from the pci.ids database (Debian's pciutils/hwdata ship it). */
public final class PciIds {

    public static final List<Path> DEFAULT_LOCATIONS = List.of(
            Path.of("/usr/share/misc/pci.ids"), Path.of("/usr/share/hwdata/pci.ids"));

    private static final PciIds EMPTY = new PciIds(Map.of(), Map.of());
    private static volatile PciIds system;

    private final Map<String, String> vendors;
    private final Map<String, String> devices; // "vvvv:dddd"

    private PciIds(Map<String, String> vendors, Map<String, String> devices) {
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
        Map<String, String> vendors = new HashMap<>(1 << 13);
        Map<String, String> devices = new HashMap<>(1 << 16);
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.ISO_8859_1)) {
            String vendor = null;
            String line;
            while ((line = r.readLine()) != null) {
                if (line.isEmpty() || line.charAt(0) == '#') continue;
                if (line.startsWith("C ")) break; // the class section ends the vendor list
                if (line.charAt(0) != '\t') {
                    if (line.length() > 6 && isHex4(line, 0)) {
                        vendor = line.substring(0, 4).toLowerCase();
                        vendors.put(vendor, line.substring(4).strip());
                    } else {
                        vendor = null;
                    }
                } else if (vendor != null && line.length() > 7 && line.charAt(1) != '\t' && isHex4(line, 1)) {
                    devices.put(vendor + ":" + line.substring(1, 5).toLowerCase(), line.substring(5).strip());
                }
            }
        }
        return new PciIds(vendors, devices);
    }

    private static boolean isHex4(String s, int from) {
        for (int i = from; i < from + 4; i++) {
            if (Character.digit(s.charAt(i), 16) < 0) return false;
        }
        return true;
    }

    public Optional<String> vendor(String vendorId) {
        return Optional.ofNullable(vendors.get(vendorId));
    }

    public Optional<String> device(String vendorId, String deviceId) {
        return Optional.ofNullable(devices.get(vendorId + ":" + deviceId));
    }
}
