package io.vfiobroker.e2e;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The guest's own view, recorded by plain tools (lspci, ls, cat) in e2e/vm/scenarios/inventory.sh —
 * independent of the daemon's sysfs reader, so the CLI can be compared against it.
 */
public record GuestTruth(List<PciFunction> devices, Map<Integer, List<String>> groups,
                         Map<String, Map<String, String>> iommuUnits, Properties kernel) {

    /** One lspci -vmm record. Driver and group are null when lspci shows none. */
    public record PciFunction(String address, String vendor, String device, String driver, Integer iommuGroup) {
    }

    public static GuestTruth of(VmResult r) {
        return new GuestTruth(lspci(r.text("truth/lspci.txt")), groups(r.text("truth/groups.txt")),
                units(r.text("truth/iommu-units.txt")), r.properties("truth/kernel.properties"));
    }

    public boolean yes(String key) {
        String v = kernel.getProperty(key);
        if (v == null) throw new AssertionError("truth/kernel.properties has no " + key);
        return v.equals("yes");
    }

    /** A kernel parameter as the guest read it, null when the module has no such parameter. */
    public Boolean param(String key) {
        String v = kernel.getProperty(key);
        if (v == null) throw new AssertionError("truth/kernel.properties has no " + key);
        return v.equals("absent") ? null : v.equals("Y") || v.equals("1");
    }

    public List<PciFunction> withIds(String vendor, String device) {
        return devices.stream().filter(d -> d.vendor().equals(vendor) && d.device().equals(device)).toList();
    }

    private static List<PciFunction> lspci(String text) {
        List<PciFunction> out = new ArrayList<>();
        for (String record : text.split("\n\\s*\n")) {
            if (record.isBlank()) continue;
            Map<String, String> f = new LinkedHashMap<>();
            for (String line : record.split("\n")) {
                int tab = line.indexOf(':');
                if (tab > 0) f.put(line.substring(0, tab), line.substring(tab + 1).trim());
            }
            out.add(new PciFunction(f.get("Slot"), f.get("Vendor"), f.get("Device"), f.get("Driver"),
                    f.containsKey("IOMMUGroup") ? Integer.valueOf(f.get("IOMMUGroup")) : null));
        }
        return out;
    }

    private static Map<Integer, List<String>> groups(String text) {
        Map<Integer, List<String>> out = new TreeMap<>();
        for (String line : text.split("\n")) {
            String[] w = line.trim().split("\\s+");
            if (w.length < 1 || w[0].isEmpty()) continue;
            out.put(Integer.valueOf(w[0]), List.of(w).subList(1, w.length).stream().sorted().toList());
        }
        return out;
    }

    private static Map<String, Map<String, String>> units(String text) {
        Map<String, Map<String, String>> out = new TreeMap<>();
        for (String line : text.split("\n")) {
            String[] w = line.trim().split("\\s+");
            if (w[0].isEmpty()) continue;
            Map<String, String> regs = new LinkedHashMap<>();
            for (int i = 1; i < w.length; i++) {
                int eq = w[i].indexOf('=');
                if (eq > 0 && eq < w[i].length() - 1) regs.put(w[i].substring(0, eq), w[i].substring(eq + 1));
            }
            out.put(w[0], regs);
        }
        return out;
    }
}
