package io.vfiobroker.config;

import io.grpc.BindableService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.broker.FdSocketServer;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Leases, the fd socket and the gRPC endpoint. Sockets live in the run directory (/run/vfio-broker). */
@Configuration(proxyBeanMethods = false)
public class BrokerConfiguration {

    /** The run directory: {@code vfio-broker.run-dir}, else run/vfio-broker below the host root. */
    public static Path runDir(String configured, SysfsHost host) {
        if (configured != null && !configured.isBlank()) return Path.of(configured);
        return host.daemonPath("run/vfio-broker");
    }

    @Bean
    @ConditionalOnMissingBean
    DomainOpener domainOpener(SysfsHost host, BrokerProperties props) {
        // A generated host has no VFIO driver behind its /dev nodes: the kernel model answers the same calls there.
        if (props.demo() || props.simulateKernel()) return new VfioDomainOpener(host, VfioKernelModel.of(host));
        return new VfioDomainOpener(host);
    }

    /** Audit bounds: {@code vfio-broker.audit.max-file-size} (16MB), {@code .max-files} (5), {@code .refusal-burst} (20 per uid and
     * kind) and {@code .refusal-window} (10s): refusals beyond the burst in a window become one coalesced record.
     * {@code .sync-interval} (50ms): records are written before a call answers and fsynced within this; 0 = before it answers. */
    @Bean(destroyMethod = "close")
    AuditLog auditLog(Journal journal, @Value("${vfio-broker.audit.max-file-size:16MB}") org.springframework.util.unit.DataSize maxFile,
                      @Value("${vfio-broker.audit.max-files:5}") int maxFiles, @Value("${vfio-broker.audit.refusal-burst:20}") int burst,
                      @Value("${vfio-broker.audit.refusal-window:10s}") Duration window,
                      @Value("${vfio-broker.audit.sync-interval:50ms}") Duration syncInterval) {
        return new AuditLog(journal.file().getParent(), new AuditLog.Settings(maxFile.toBytes(), maxFiles, burst, window, syncInterval));
    }

    @Bean
    Memlock memlock(SysfsHost host) {
        return new Memlock();
    }

    @Bean(destroyMethod = "close")
    LeaseService leaseService(SysfsHost host, InventoryScanner scanner, BindingService binding, PolicyService policy, DomainOpener domains,
                              Memlock memlock, AuditLog audit, Journal journal, io.vfiobroker.quota.Quotas quotas,
                              @Value("${vfio-broker.ticket-ttl:10s}") Duration ttl) {
        LeaseService leases = new LeaseService(host, scanner, binding, policy, domains, memlock, audit, ttl);
        leases.setAcquireGate(uid -> quotas.acquire().acquire(uid));
        nameLeaseUsers(binding, leases);
        // Clients keep their fds across a daemon restart: take their leases back before serving anyone else.
        leases.persistTo(new io.vfiobroker.lease.LeaseStore(journal.file().getParent().resolve("leases.json")));
        return leases;
    }

    /** A release refused because a lease uses the group names the lease (id, uid, pid), so the admin knows what to end. */
    public static void nameLeaseUsers(BindingService binding, LeaseService leases) {
        binding.setGroupUser(group -> {
            List<String> users = leases.active().stream().filter(l -> l.devices().stream().anyMatch(d -> d.group() == group))
                    .map(l -> "lease " + l.id() + " (uid " + l.holder().uid() + ", pid " + l.holder().pid() + ")").toList();
            return users.isEmpty() ? null : String.join(", ", users);
        });
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnProperty(name = "vfio-broker.sockets.enabled", havingValue = "true", matchIfMissing = true)
    FdSocketServer fdSocketServer(LeaseService leases, SysfsHost host, @Value("${vfio-broker.run-dir:}") String runDir,
                                  @Value("${vfio-broker.socket-group:}") String group, io.vfiobroker.quota.Quotas quotas,
                                  io.vfiobroker.grpc.Authz authz) throws IOException {
        return new FdSocketServer(runDir(runDir, host).resolve("fd.sock"), leases, group, quotas.settings().fd(), quotas.fdConnections(),
                authz::isAdmin);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnProperty(name = "vfio-broker.sockets.enabled", havingValue = "true", matchIfMissing = true)
    GrpcServer grpcServer(LeaseService leases, FdSocketServer fdSocket, SysfsHost host, @Value("${vfio-broker.run-dir:}") String runDir,
                          ControlPlaneConfiguration.GrpcServices controlPlane, @Value("${vfio-broker.socket-group:}") String group) throws IOException {
        List<BindableService> services = controlPlane.withLeases(leases, fdSocket.path());
        return new GrpcServer(runDir(runDir, host).resolve("api.sock"), services, List.of(), group);
    }
}
