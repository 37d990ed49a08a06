package io.vfiobroker.nativeshim;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Sizes, offsets and constants of the kernel ABI the shim uses, from one source: the Java mirrors, the shim's own C
 * compile ({@code vb_uapi.h} over the build host's headers), or the text abi.c prints when built over other headers
 * (a kernel's exported uapi). Two reports are compared line by line, so a disagreement names its struct or constant.
 */
public record AbiReport(Map<String, Map<String, Long>> structs, Map<String, Long> constants) {

    private static final List<Class<?>> CONSTANT_HOLDERS = List.of(VfioAbi.class, IommufdAbi.class, LibcAbi.class, Errno.class);

    /** The report of abi.c as compiled into the shim loaded here. */
    public static AbiReport ofShim() {
        long need = Shim.vb_abi_report(null, 0);
        byte[] buf = new byte[(int) need];
        Shim.vb_abi_report(buf, buf.length);
        return parse(new String(buf, 0, (int) need - 1, StandardCharsets.US_ASCII));
    }

    /** Parses abi.c's format: "struct NAME sizeof=N field=OFFSET ..." and "const NAME=VALUE", one per line. */
    public static AbiReport parse(String text) {
        if (!text.startsWith("shim\n")) throw new IllegalArgumentException("not an ABI report (no 'shim' line): " + text.lines().findFirst().orElse(""));
        Map<String, Map<String, Long>> structs = new TreeMap<>();
        Map<String, Long> constants = new TreeMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("struct ")) {
                String[] parts = line.split(" ");
                Map<String, Long> layout = new LinkedHashMap<>();
                for (int i = 2; i < parts.length; i++) {
                    String[] kv = parts[i].split("=");
                    layout.put(kv[0], Long.parseLong(kv[1]));
                }
                structs.put(parts[1], layout);
            } else if (line.startsWith("const ")) {
                String[] kv = line.substring(6).split("=");
                constants.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        return new AbiReport(structs, constants);
    }

    /** What the Java mirrors (VfioAbi, IommufdAbi, LibcAbi, Errno) say. */
    public static AbiReport ofJavaMirrors() {
        Map<String, Map<String, Long>> structs = new TreeMap<>();
        List<AbiStruct> all = new ArrayList<>(VfioAbi.all());
        all.addAll(IommufdAbi.all());
        for (AbiStruct s : all) {
            Map<String, Long> layout = new LinkedHashMap<>();
            layout.put("sizeof", (long) s.size());
            for (String f : s.fieldNames()) layout.put(f, (long) s.offsetOf(f));
            // A flexible array member starts right at sizeof.
            for (String flex : s.flexibleArrays()) layout.put(flex, (long) s.size());
            structs.put(s.getClass().getSimpleName(), layout);
        }
        Map<String, Long> constants = new TreeMap<>();
        for (Class<?> holder : CONSTANT_HOLDERS) {
            for (Field f : holder.getFields()) {
                if (!Modifier.isStatic(f.getModifiers()) || !f.getType().isPrimitive()) continue;
                try {
                    constants.put(f.getName(), ((Number) f.get(null)).longValue());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return new AbiReport(structs, constants);
    }

    /** One line per disagreement, e.g. "VFIO_DEVICE_RESET: this 15216, other 15215"; empty when both agree. */
    public List<String> differences(AbiReport other) {
        List<String> out = new ArrayList<>();
        Map<String, Map<String, Long>> names = new TreeMap<>(other.structs);
        names.putAll(structs);
        for (String s : names.keySet()) {
            Map<String, Long> mine = structs.get(s);
            Map<String, Long> theirs = other.structs.get(s);
            if (mine == null || !mine.equals(theirs)) out.add("struct " + s + ": this " + mine + ", other " + theirs);
        }
        Map<String, Long> all = new TreeMap<>(other.constants);
        all.putAll(constants);
        for (String k : all.keySet()) {
            Long mine = constants.get(k);
            Long theirs = other.constants.get(k);
            if (mine == null || !mine.equals(theirs)) out.add(k + ": this " + mine + ", other " + theirs);
        }
        return out;
    }
}
