package io.vfiobroker.bench;

import java.nio.file.Path;

/**
 * {@link ProtocolFloor} in a process of its own, as the daemon is: prints {@code READY <dir> <pid>} and serves until
 * its stdin closes. Args: parentDir.
 */
public final class FloorServer {

    public static void main(String[] args) throws Exception {
        try (ProtocolFloor floor = new ProtocolFloor(Path.of(args[0]))) {
            System.out.println("READY " + floor.dir() + " " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the bench closes our stdin
            }
        }
        System.exit(0); // gRPC's event loop threads are not daemon threads
    }
}
