package io.vfiobroker.nativeshim;

/** kcmp(2) with KCMP_FILE: whether two fds, in two processes, are one open file description. */
public final class Kcmp {
    private Kcmp() {
    }

    /**
     * True when fd {@code fd1} of {@code pid1} and fd {@code fd2} of {@code pid2} are the same file. Throws for
     * ENOSYS (kernel without CONFIG_KCMP), EPERM or EBADF (the fd closed meanwhile), naming the call.
     */
    public static boolean sameFile(int pid1, int fd1, int pid2, int fd2) {
        int r = Shim.vb_kcmp_file(pid1, pid2, fd1, fd2);
        if (r < 0) NativeException.check(r, "kcmp(KCMP_FILE)", "pid " + pid1 + " fd " + fd1 + " vs pid " + pid2 + " fd " + fd2);
        return r == 0;
    }
}
