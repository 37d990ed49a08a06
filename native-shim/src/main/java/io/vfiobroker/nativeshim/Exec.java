package io.vfiobroker.nativeshim;

import java.util.List;
import java.util.Map;

/** Replaces this process with a program that inherits exactly {@code fds}, as 3, 4, ... (systemd's LISTEN_FDS convention). */
public final class Exec {
    private Exec() {
    }

    /** Does not return on success; the pid stays the same, so a lease watching it follows the program. */
    public static void execWithFds(String program, List<String> args, Map<String, String> env, int[] fds) {
        String[] argv = new String[args.size() + 1];
        argv[0] = program;
        for (int i = 0; i < args.size(); i++) argv[i + 1] = args.get(i);
        String[] envp = env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toArray(String[]::new);
        int rc = Shim.Exec.LIB.vb_exec_fds(program, argv, envp, fds, fds.length);
        throw new NativeException("execve", -rc, program);
    }
}
