package io.vfiobroker.nativeshim;

import java.nio.file.Path;
import java.util.Arrays;

/** One-line wrappers for plain file calls; failures name the call and path or fd. */
public final class Posix {
    private Posix() {
    }

    /** open(2) with O_CLOEXEC always added; the error reads "open /dev/vfio/vfio: ENOENT". */
    public static OwnedFd open(Path path, int flags) {
        return new OwnedFd(NativeException.check(Shim.vb_open(path.toString(), flags, 0600), "open " + path, ""));
    }

    /** Reads up to {@code len} bytes at the fd's position; an empty array at end of file. */
    public static byte[] read(int fd, int len) {
        byte[] buf = new byte[len];
        int n = (int) NativeException.check(Shim.vb_read(fd, buf, len), "read", "fd " + fd);
        return n == len ? buf : Arrays.copyOf(buf, n);
    }

    /** Writes the bytes once, returning how many the kernel took. */
    public static int write(int fd, byte[] data) {
        return (int) NativeException.check(Shim.vb_write(fd, data, data.length), "write", "fd " + fd);
    }

    /** pread(2): fills {@code buf} from {@code offset}, returning the byte count (short at end of file). */
    public static int pread(int fd, byte[] buf, long offset, String context) {
        return (int) NativeException.check(Shim.vb_pread(fd, buf, buf.length, offset), "pread", context);
    }

    /** pwrite(2) of all of {@code data} at {@code offset}, returning the byte count. */
    public static int pwrite(int fd, byte[] data, long offset, String context) {
        return (int) NativeException.check(Shim.vb_pwrite(fd, data, data.length, offset), "pwrite", context);
    }

    /** poll(2) for {@code events} on up to 64 fds; returns each fd's revents (all 0 on timeout, -1 waits forever). */
    public static short[] poll(int[] fds, int events, int timeoutMs) {
        short[] ev = new short[fds.length];
        Arrays.fill(ev, (short) events);
        short[] rev = new short[fds.length];
        NativeException.check(Shim.vb_poll(fds, ev, rev, fds.length, timeoutMs), "poll", "");
        return rev;
    }

    /** lstat(2) succeeds: the path names something, a dangling symbolic link included. A miss costs no exception. */
    public static boolean lexists(Path path) {
        return NativeException.check(Shim.vb_lexists(path.toString()), "lstat " + path, "") == 1;
    }

    /** Whether {@code fd} became readable (or hung up) within the timeout. */
    public static boolean awaitReadable(int fd, int timeoutMs) {
        return poll(new int[] {fd}, LibcAbi.POLLIN, timeoutMs)[0] != 0;
    }
}
