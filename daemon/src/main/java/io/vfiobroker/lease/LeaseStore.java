package io.vfiobroker.lease;

import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * The active leases, rewritten atomically on every change, so a restarted daemon can take its clients back:
 * they keep their fds across the restart, and their devices must not be given to anyone else meanwhile.
 * A client is recognised by pid plus process start time, so a reused pid is not mistaken for it.
 */
public final class LeaseStore {

    /** What a restart needs to watch a client again and to restore its devices when it goes. */
    public record Stored(String id, int pid, long startTime, int uid, int gid, List<Lease.Device> devices, String backend,
                         boolean unsafeInterrupts, String rule, long memlockLimitBytes, boolean keepBound, String created) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().addModule(io.vfiobroker.json.DomainJson.module()).build();
    private final Path file;

    public LeaseStore(Path file) {
        this.file = file;
    }

    public synchronized void write(List<Stored> leases) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(tmp, JSON.writeValueAsString(leases), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write lease store " + file + ": " + e.getMessage(), e);
        }
    }

    public synchronized List<Stored> read() {
        if (!Files.exists(file)) return List.of();
        try {
            return JSON.readValue(Files.readString(file, StandardCharsets.UTF_8), new TypeReference<List<Stored>>() {
            });
        } catch (IOException | RuntimeException e) {
            // A store we cannot read is reported by the caller's reconcile; the binding journal still knows the devices.
            throw new IllegalStateException("cannot read lease store " + file + ": " + e.getMessage(), e);
        }
    }

    /** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
    public static Optional<Long> startTime(int pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Optional.of(Long.parseLong(f[19]));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
