package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The Java mirrors against the C compiler: every size, offset and constant, in both directions. */
class AbiLayoutTest {
    private static final List<Class<?>> CONSTANT_HOLDERS = List.of(VfioAbi.class, IommufdAbi.class, LibcAbi.class,
            Errno.class);

    @Test
    void everyMirroredStructHasTheCompilersSizeAndOffsets() {
        Map<String, Map<String, Long>> c = cStructs();
        Map<String, Map<String, Long>> java = new TreeMap<>();
        List<AbiStruct> all = new ArrayList<>(VfioAbi.all());
        all.addAll(IommufdAbi.all());
        for (AbiStruct s : all) {
            Map<String, Long> layout = new LinkedHashMap<>();
            layout.put("sizeof", (long) s.size());
            for (String f : s.fieldNames()) {
                layout.put(f, (long) s.offsetOf(f));
            }
            for (String flex : s.flexibleArrays()) {
                layout.put(flex, (long) s.size()); // a flexible array member starts right at sizeof
            }
            java.put(s.getClass().getSimpleName(), layout);
        }
        assertThat(differences(java, c)).as("Java mirror vs C compiler").isEmpty();
    }

    @Test
    void everyConstantAndIoctlNumberIsTheCompilers() {
        Map<String, Long> c = cConstants();
        Map<String, Long> java = new TreeMap<>();
        for (Class<?> holder : CONSTANT_HOLDERS) {
            for (Field f : holder.getFields()) {
                if (Modifier.isStatic(f.getModifiers()) && f.getType().isPrimitive()) {
                    try {
                        java.put(f.getName(), ((Number) f.get(null)).longValue());
                    } catch (IllegalAccessException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        }
        assertThat(differences(java, c)).as("Java constant vs C compiler").isEmpty();
    }

    @Test
    void errnoNamesComeFromTheTable() {
        assertThat(Errno.name(Errno.EBUSY)).isEqualTo("EBUSY");
        assertThat(Errno.name(Errno.ENOTTY)).isEqualTo("ENOTTY");
        assertThat(Errno.name(4095)).isEqualTo("errno 4095");
    }

    /** One readable line per disagreement, e.g. "VFIO_DEVICE_RESET: java 15216, C 15215". */
    private static <V> List<String> differences(Map<String, V> java, Map<String, V> c) {
        List<String> out = new ArrayList<>();
        Map<String, V> all = new TreeMap<>(c);
        all.putAll(java);
        for (String k : all.keySet()) {
            if (!java.containsKey(k) || !c.containsKey(k) || !java.get(k).equals(c.get(k))) {
                out.add(k + ": java " + java.get(k) + ", C " + c.get(k));
            }
        }
        return out;
    }

    private static List<String> reportLines() {
        long need = Shim.vb_abi_report(null, 0);
        byte[] buf = new byte[(int) need];
        Shim.vb_abi_report(buf, buf.length);
        String text = new String(buf, 0, (int) need - 1, StandardCharsets.US_ASCII);
        assertThat(text).startsWith("shim\n");
        return List.of(text.split("\n"));
    }

    private static Map<String, Map<String, Long>> cStructs() {
        Map<String, Map<String, Long>> out = new TreeMap<>();
        for (String line : reportLines()) {
            if (line.startsWith("struct ")) {
                String[] parts = line.split(" ");
                Map<String, Long> layout = new LinkedHashMap<>();
                for (int i = 2; i < parts.length; i++) {
                    String[] kv = parts[i].split("=");
                    layout.put(kv[0], Long.parseLong(kv[1]));
                }
                out.put(parts[1], layout);
            }
        }
        assertThat(out).hasSizeGreaterThan(15);
        return out;
    }

    private static Map<String, Long> cConstants() {
        Map<String, Long> out = new TreeMap<>();
        for (String line : reportLines()) {
            if (line.startsWith("const ")) {
                String[] kv = line.substring(6).split("=");
                out.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        assertThat(out).containsKeys("VFIO_GROUP_SET_CONTAINER", "IOMMU_IOAS_MAP", "VFIO_DEVICE_BIND_IOMMUFD");
        return out;
    }
}
