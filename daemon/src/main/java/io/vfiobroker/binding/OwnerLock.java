package io.vfiobroker.binding;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * {@code daemon.lock} in the state directory: a running daemon holds it for its whole life, and the CLI changes
 * bindings by itself only while it holds it. So an offline {@code vfio-broker bind/release} can never work
 * behind the back of a daemon whose socket did not answer (elsewhere, wedged, sockets disabled).
 */
public final class OwnerLock implements AutoCloseable {

    public static final String FILE = "daemon.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private OwnerLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    public static Path file(Path stateDir) {
        return stateDir.resolve(FILE);
    }

    /** The lock, or empty when another process (or another holder in this one) has it. */
    public static Optional<OwnerLock> tryTake(Path stateDir) {
        Path f = file(stateDir);
        FileChannel ch = null;
        try {
            Files.createDirectories(stateDir);
            ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException held) {
                l = null; // held by this JVM (a daemon in the same process, as in tests)
            }
            if (l == null) {
                ch.close();
                return Optional.empty();
            }
            return Optional.of(new OwnerLock(ch, l));
        } catch (IOException e) {
            try {
                if (ch != null) ch.close();
            } catch (IOException ignored) {
                // the open failed or the lock did; the first error is the one to report
            }
            throw new UncheckedIOException("cannot lock " + f + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
            channel.close();
        } catch (IOException ignored) {
            // closing the channel drops the lock in any case
        }
    }
}
