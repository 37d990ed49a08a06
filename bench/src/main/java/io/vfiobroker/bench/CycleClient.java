package io.vfiobroker.bench;

import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;

/**
 * One client process of a lease bench, as a workload using the client library is: {@code broker RUN_DIR DEVICES}
 * does acquire → redeem on fd.sock → release, rotating over DEVICES (comma-separated); {@code floor DIR} does the
 * {@link ProtocolFloor}'s cycle. Prints READY once connected; on each {@code GO n} on stdin runs n cycles and prints
 * {@code ROUND startNs endNs} (CLOCK_MONOTONIC, comparable between processes) and {@code LAT ns,ns,...}; on
 * {@code EXIT} prints its own RLIMIT_MEMLOCK ({@code MEMLOCK soft hard}, from /proc/self/limits) and exits.
 */
public final class CycleClient {

    interface Cycle extends AutoCloseable {
        void run();

        @Override
        void close();
    }

    public static void main(String[] args) throws Exception {
        try (Cycle cycle = args[0].equals("broker") ? broker(Path.of(args[1]), List.of(args[2].split(","))) : floor(Path.of(args[1]))) {
            cycle.run(); // connected and served once before READY: a broken setup fails here, not mid-round
            System.out.println("READY");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null && !line.equals("EXIT"); ) {
                long[] lat = new long[Integer.parseInt(line.substring(3))];
                long start = System.nanoTime();
                for (int i = 0; i < lat.length; i++) {
                    long t = System.nanoTime();
                    cycle.run();
                    lat[i] = System.nanoTime() - t;
                }
                long end = System.nanoTime();
                StringJoiner j = new StringJoiner(",", "LAT ", "");
                for (long l : lat) j.add(Long.toString(l));
                System.out.println("ROUND " + start + " " + end);
                System.out.println(j);
                System.out.flush();
            }
            System.out.println("MEMLOCK " + memlock());
            System.out.flush();
        } catch (Exception | Error e) {
            System.out.println("ERROR " + e);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0); // the client's event loop threads are not daemon threads
    }

    private static Cycle broker(Path runDir, List<String> devices) {
        VfioBrokerClient client = VfioBrokerClient.connect(runDir);
        return new Cycle() {
            int next;

            @Override
            public void run() {
                String device = devices.get(next++ % devices.size());
                AcquireResponse r = client.stub().withDeadlineAfter(60, TimeUnit.SECONDS).acquire(AcquireRequest.newBuilder().addDevices(device).build());
                try (AcquiredDevices got = client.redeem(r)) { // closing closes the fds and releases the lease
                    if (got.fds().isEmpty()) throw new IllegalStateException("no fds for " + device);
                }
            }

            @Override
            public void close() {
                client.close();
            }
        };
    }

    private static Cycle floor(Path dir) {
        ProtocolFloor.Client client = new ProtocolFloor.Client(dir);
        return new Cycle() {
            @Override
            public void run() {
                client.cycle();
            }

            @Override
            public void close() {
                client.close();
            }
        };
    }

    /** "soft hard" of "Max locked memory" in /proc/self/limits: what the daemon's prlimit left this process. */
    private static String memlock() throws java.io.IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (l.startsWith("Max locked memory")) {
                String[] f = l.substring("Max locked memory".length()).trim().split("\\s+");
                return f[0] + " " + f[1];
            }
        }
        return "? ?";
    }
}
