package io.vfiobroker.dra;

import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The checkpoint of prepared claims, a JSON file in the state directory: after a daemon restart the kubelet may
 * still call NodeUnprepareResources, and the claim's groups must then still be released and restored. Replaced
 * whole (temp file, fsync, rename) so a crash leaves the old or the new version, never half of one.
 */
public final class PreparedClaims {

    public static final String FILE = "dra-claims.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    /** One prepared device. */
    public record PreparedDevice(String request, String pool, String device, String pciAddress, int group, String backend,
                                 Long memlockLimit, boolean keepBound, List<String> cdiIds) {
        public PreparedDevice {
            cdiIds = List.copyOf(cdiIds);
        }
    }

    /**
     * A prepared claim.
     *
     * @param env         env every device of the claim carries (a broker-mode allocation token)
     * @param boundGroups IOMMU groups this claim's Prepare bound (a group already on vfio-pci is not ours to restore)
     */
    public record Prepared(String namespace, String name, String uid, String principal, Map<String, String> env,
                           List<PreparedDevice> devices, List<Integer> boundGroups) {
        public Prepared {
            env = env == null ? Map.of() : Map.copyOf(env);
            devices = List.copyOf(devices);
            boundGroups = List.copyOf(boundGroups);
        }

        Prepared withBoundGroups(List<Integer> groups) {
            return new Prepared(namespace, name, uid, principal, env, devices, groups);
        }
    }

    private final Path file;
    private final Map<String, Prepared> claims = new LinkedHashMap<>();

    public PreparedClaims(Path stateDir) {
        this.file = stateDir.resolve(FILE);
        if (Files.exists(file)) {
            try {
                Map<String, Prepared> read = JSON.readValue(Files.readString(file, StandardCharsets.UTF_8), new TypeReference<>() {
                });
                if (read != null) claims.putAll(read);
            } catch (IOException | RuntimeException e) {
                throw new IllegalStateException("cannot read the DRA checkpoint " + file + ": " + e.getMessage(), e);
            }
        }
    }

    public Path file() {
        return file;
    }

    public synchronized Prepared get(String uid) {
        return claims.get(uid);
    }

    public synchronized Map<String, Prepared> all() {
        return Collections.unmodifiableMap(new LinkedHashMap<>(claims));
    }

    public synchronized void put(Prepared p) {
        Map<String, Prepared> next = new LinkedHashMap<>(claims);
        next.put(p.uid(), p);
        save(next);
        claims.put(p.uid(), p);
    }

    public synchronized void remove(String uid) {
        if (!claims.containsKey(uid)) return;
        Map<String, Prepared> next = new LinkedHashMap<>(claims);
        next.remove(uid);
        save(next);
        claims.remove(uid);
    }

    private void save(Map<String, Prepared> m) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling("." + FILE + ".tmp");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the DRA checkpoint " + file + ": " + e.getMessage(), e);
        }
    }
}
