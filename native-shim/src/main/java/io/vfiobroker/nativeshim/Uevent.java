package io.vfiobroker.nativeshim;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** One kernel uevent: its KEY=VALUE properties (ACTION, DEVPATH, SUBSYSTEM, PCI_SLOT_NAME, ...). */
public record Uevent(Map<String, String> properties) {
    public Uevent {
        properties = Map.copyOf(properties);
    }

    /** "add", "remove", "bind", "unbind", "change", ... */
    public String action() {
        return properties.getOrDefault("ACTION", "");
    }

    /** The sysfs path below /sys, e.g. "/devices/pci0000:00/0000:00:03.0". */
    public String devpath() {
        return properties.getOrDefault("DEVPATH", "");
    }

    /** e.g. "pci", "vfio". */
    public String subsystem() {
        return properties.getOrDefault("SUBSYSTEM", "");
    }

    /** Parses a kernel datagram: a "ACTION@DEVPATH" header, then NUL-separated KEY=VALUE strings. */
    public static Uevent parse(byte[] buf, int len) {
        Map<String, String> props = new LinkedHashMap<>();
        int start = 0;
        for (int i = 0; i <= len; i++) {
            if (i == len || buf[i] == 0) {
                String s = new String(buf, start, i - start, StandardCharsets.UTF_8);
                int eq = s.indexOf('=');
                if (eq > 0) {
                    props.putIfAbsent(s.substring(0, eq), s.substring(eq + 1));
                }
                start = i + 1;
            }
        }
        return new Uevent(props);
    }
}
