package io.vfiobroker.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** What a running daemon's own outputs say: its Prometheus counters and its audit log's size. */
final class DaemonMetrics {

    private DaemonMetrics() {
    }

    /** The gRPC metrics interceptor's count of granted Acquire calls, as Prometheus scrapes it. */
    static String acquires(BrokerProcess d) throws IOException, InterruptedException {
        try (Stream<String> lines = d.get("/actuator/prometheus").lines()) {
            return lines.filter(l -> l.startsWith("vfio_broker_grpc_calls_total") && l.contains("Acquire") && l.contains("code=\"ok\""))
                    .findFirst().map(l -> "prometheus: " + l).orElse("prometheus: no Acquire counter");
        }
    }

    static long auditBytes(Path stateDir) throws IOException {
        try (Stream<Path> s = Files.walk(stateDir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("audit")).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
