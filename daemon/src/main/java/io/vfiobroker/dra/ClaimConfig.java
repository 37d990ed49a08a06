package io.vfiobroker.dra;

import io.vfiobroker.domain.Backend;
import tools.jackson.databind.JsonNode;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A device's effective claim configuration: the opaque {@code vfio-broker.io/v1} parameters of its DeviceClass,
 * then of its claim, the later overriding field by field.
 *
 * @param backend      null: the pool's own
 * @param memlockLimit bytes, null: none given
 * @param keepBound    leave the devices on vfio-pci at Unprepare instead of restoring their drivers
 */
public record ClaimConfig(Backend backend, Long memlockLimit, boolean keepBound) {

    public static final String API_VERSION = "vfio-broker.io/v1";
    public static final String KIND = "VfioDeviceConfig";
    public static final ClaimConfig DEFAULT = new ClaimConfig(null, null, false);

    private static final Set<String> FIELDS = Set.of("apiVersion", "kind", "backend", "memlockLimit", "keepBound");
    private static final Pattern QUANTITY = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?");
    private static final Map<String, BigDecimal> SUFFIX = Map.ofEntries(
            Map.entry("", BigDecimal.ONE), Map.entry("k", BigDecimal.TEN.pow(3)), Map.entry("M", BigDecimal.TEN.pow(6)),
            Map.entry("G", BigDecimal.TEN.pow(9)), Map.entry("T", BigDecimal.TEN.pow(12)), Map.entry("P", BigDecimal.TEN.pow(15)),
            Map.entry("E", BigDecimal.TEN.pow(18)), Map.entry("Ki", BigDecimal.valueOf(2).pow(10)),
            Map.entry("Mi", BigDecimal.valueOf(2).pow(20)), Map.entry("Gi", BigDecimal.valueOf(2).pow(30)),
            Map.entry("Ti", BigDecimal.valueOf(2).pow(40)), Map.entry("Pi", BigDecimal.valueOf(2).pow(50)),
            Map.entry("Ei", BigDecimal.valueOf(2).pow(60)));

    /** Applies one opaque config's parameters over this one; {@code where} names it in errors. */
    public ClaimConfig apply(JsonNode p, String where) {
        if (p == null || !p.isObject()) throw new DraException(where + ": parameters must be an object with apiVersion " + API_VERSION);
        String apiVersion = p.path("apiVersion").asString("");
        if (!API_VERSION.equals(apiVersion)) {
            throw new DraException(where + ": field apiVersion must be " + API_VERSION + ", got '" + apiVersion + "'");
        }
        if (p.has("kind") && !KIND.equals(p.path("kind").asString(""))) {
            throw new DraException(where + ": field kind must be " + KIND + ", got '" + p.path("kind").asString("") + "'");
        }
        for (String f : p.propertyNames()) {
            if (!FIELDS.contains(f)) {
                throw new DraException(where + ": unknown field " + f + " (known: apiVersion, kind, backend, memlockLimit, keepBound)");
            }
        }
        Backend b = backend;
        Long mem = memlockLimit;
        boolean keep = keepBound;
        if (p.has("backend")) {
            JsonNode v = p.get("backend");
            String s = v.isString() ? v.asString().toLowerCase(Locale.ROOT) : "";
            try {
                b = Backend.parse(s);
            } catch (IllegalArgumentException e) {
                throw new DraException(where + ": field backend must be \"legacy\" or \"iommufd\", got " + v);
            }
        }
        if (p.has("memlockLimit")) mem = memlock(p.get("memlockLimit"), where);
        if (p.has("keepBound")) {
            JsonNode v = p.get("keepBound");
            if (!v.isBoolean()) throw new DraException(where + ": field keepBound must be true or false, got " + v);
            keep = v.asBoolean();
        }
        return new ClaimConfig(b, mem, keep);
    }

    private static long memlock(JsonNode v, String where) {
        String bad = where + ": field memlockLimit must be a byte count or a Kubernetes quantity such as \"2Gi\", got " + v;
        if (v.isIntegralNumber()) {
            if (v.asLong() < 0) throw new DraException(bad);
            return v.asLong();
        }
        if (!v.isString()) throw new DraException(bad);
        Matcher m = QUANTITY.matcher(v.asString().strip());
        if (!m.matches()) throw new DraException(bad);
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(SUFFIX.get(m.group(2) == null ? "" : m.group(2)));
        try {
            return bytes.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
        } catch (ArithmeticException e) {
            throw new DraException(bad + " (too large)");
        }
    }
}
