package io.vfiobroker.cdi;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Keeps CDI spec files in a directory (/var/run/cdi on a node) in step with what we manage. Runtimes re-read
 * the directory whenever it changes, so a file is only ever replaced whole: written beside its final name,
 * synced, renamed over it. Unchanged content is not rewritten (no spurious refreshes in the runtime).
 */
public final class CdiSpecWriter {

    private static final Logger log = LoggerFactory.getLogger(CdiSpecWriter.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Path dir;

    public CdiSpecWriter(Path dir) {
        this.dir = dir;
    }

    public Path dir() {
        return dir;
    }

    /** "vfio-broker.io/x710-vf" → vfio-broker.io-x710-vf.json */
    public Path file(String kind) {
        return dir.resolve(kind.replace('/', '-') + ".json");
    }

    /** Writes the spec if its content changed; true when the file was (re)written. */
    public synchronized boolean write(CdiSpec spec) {
        Path target = file(spec.kind());
        String text = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(spec.toJson()) + "\n";
        try {
            if (Files.exists(target) && Files.readString(target, StandardCharsets.UTF_8).equals(text)) return false;
            Files.createDirectories(dir);
            // A dot-file: runtimes only load *.json and *.yaml, so a half-written temp is never picked up.
            Path tmp = dir.resolve("." + target.getFileName() + ".tmp");
            Files.writeString(tmp, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX file system: the default mode stands
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            log.info("event=cdi-spec-written file={} kind={} devices={} cdiVersion={}", target, spec.kind(), spec.devices().size(),
                    spec.minimumVersion());
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write CDI spec " + target + ": " + e.getMessage(), e);
        }
    }

    /** Removes the spec of a kind that has no devices left (a CDI spec must list at least one). */
    public synchronized boolean remove(String kind) {
        Path target = file(kind);
        try {
            boolean gone = Files.deleteIfExists(target);
            if (gone) log.info("event=cdi-spec-removed file={} kind={}", target, kind);
            return gone;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove CDI spec " + target + ": " + e.getMessage(), e);
        }
    }
}
