package io.vfiobroker.nativeshim;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The other process in the cross-process tests: reads one command per line on stdin, answers one
 * line on stdout, so the test steps it without sleeps. Runs as root or, under setpriv, as nobody.
 */
public final class ChildMain {
    private static final List<Object> KEEP = new ArrayList<>(); // sockets and locked buffers stay alive

    private ChildMain() {
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready pid=" + ProcessHandle.current().pid());
        String line;
        while ((line = in.readLine()) != null) {
            String[] cmd = line.split(" ");
            String reply;
            try {
                reply = run(cmd);
            } catch (NativeException e) {
                reply = "error " + e.errnoName();
            }
            System.out.println(reply);
            if (cmd[0].equals("exit")) {
                System.exit(Integer.parseInt(cmd[1]));
            }
        }
    }

    private static String run(String[] cmd) {
        switch (cmd[0]) {
            case "open": // can this process open the file by itself?
                try (OwnedFd fd = Posix.open(Path.of(cmd[1]), LibcAbi.O_RDONLY)) {
                    return "ok";
                }
            case "recv-read": { // connect, take one message with fds, read the file behind the first fd
                try (OwnedFd sock = UnixSockets.connect(Path.of(cmd[1]), SocketType.STREAM);
                        ReceivedMessage m = UnixSockets.recvFds(sock.fd(), 256, 8)) {
                    String content = new String(Posix.read(m.fds().get(0).fd(), 4096), StandardCharsets.UTF_8);
                    return "payload=" + new String(m.payload(), StandardCharsets.UTF_8) + " fds=" + m.fds().size()
                            + " content=" + content;
                }
            }
            case "connect-hold": // connect and keep the socket open until exit
                KEEP.add(UnixSockets.connect(Path.of(cmd[1]), SocketType.STREAM));
                return "connected";
            case "tcp-hold": { // connect over TCP to host port, keep it open, answer the local port
                try {
                    java.net.Socket s = new java.net.Socket(cmd[1], Integer.parseInt(cmd[2]));
                    KEEP.add(s);
                    return "connected " + s.getLocalPort();
                } catch (java.io.IOException e) {
                    return "error " + e.getMessage();
                }
            }
            case "memlock": {
                Rlimits.Rlimit l = Rlimits.getMemlock(0);
                return "memlock " + l.soft() + " " + l.hard();
            }
            case "prlimit-memlock": { // set another process's memlock limit, as the daemon does at acquire
                Rlimits.setMemlock(Long.parseLong(cmd[1]), new Rlimits.Rlimit(Long.parseLong(cmd[2]), Long.parseLong(cmd[3])));
                return "limited";
            }
            case "lock": {
                DmaBuffer b = DmaBuffer.allocate(Long.parseLong(cmd[1]));
                KEEP.add(b);
                b.lock();
                return "locked";
            }
            case "exit":
                return "bye";
            default:
                return "unknown " + cmd[0];
        }
    }
}
