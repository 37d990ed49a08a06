package io.vfiobroker.config;

import io.grpc.BindableService;
import io.grpc.ServerInterceptors;
import io.micrometer.core.instrument.MeterRegistry;
import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.EventSources;
import io.vfiobroker.grpc.AccountingGrpcService;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.BindingsGrpcService;
import io.vfiobroker.grpc.EventsGrpcService;
import io.vfiobroker.grpc.GrpcMetricsInterceptor;
import io.vfiobroker.grpc.InventoryGrpcService;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.grpc.PolicyGrpcService;
import io.vfiobroker.grpc.TcpGrpcServer;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.hotplug.Hotplug;
import io.vfiobroker.hotplug.UeventHandler;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.metrics.BrokerMetrics;
import io.vfiobroker.policy.PolicyService;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The control plane around the lease service: event bus and its sources, hotplug, memlock accounting, metrics,
 * the gRPC services besides Leases, authorization and the optional TCP listener.
 *
 * Settings: {@code vfio-broker.admin-group} (name or gid; root is always admin), {@code vfio-broker.events.queue-size}
 * (1024) and {@code .max-watchers} (64), {@code vfio-broker.hotplug.enabled} (true; only acts on the root "/"),
 * {@code vfio-broker.accounting.sample-interval} (1s) and {@code .near-limit-ratio} (0.9),
 * {@code vfio-broker.grpc.tcp.*} (off unless enabled=true).
 */
@Configuration(proxyBeanMethods = false)
public class ControlPlaneConfiguration {

    /** The gRPC services served next to Leases, metered, in one place for {@link BrokerConfiguration}. */
    public record GrpcServices(Authz authz, List<BindableService> others, GrpcMetricsInterceptor metrics) {
        public List<BindableService> withLeases(LeaseService leases, Path fdSocket) {
            List<BindableService> all = new ArrayList<>();
            all.add(new LeasesGrpcService(leases, fdSocket, authz));
            all.addAll(others);
            // Metrics run inside the caller check, so unauthenticated noise is not timed as an Acquire.
            return all.stream().<BindableService>map(s -> () -> ServerInterceptors.intercept(s, metrics)).toList();
        }
    }

    @Bean
    EventBus eventBus(@Value("${vfio-broker.events.queue-size:1024}") int queue, @Value("${vfio-broker.events.max-watchers:64}") int max) {
        return new EventBus(queue, max);
    }

    @Bean
    InventoryCache inventoryCache(InventoryScanner scanner) {
        return new InventoryCache(scanner);
    }

    @Bean
    Authz authz(@Value("${vfio-broker.admin-group:}") String adminGroup) {
        return new Authz(adminGroup);
    }

    @Bean(destroyMethod = "close")
    AccountingService accountingService(LeaseService leases, Memlock memlock, EventBus bus, AuditLog audit,
                                        @Value("${vfio-broker.accounting.sample-interval:1s}") Duration period,
                                        @Value("${vfio-broker.accounting.near-limit-ratio:0.9}") double near,
                                        BindingService binding, PolicyService policy, InventoryCache cache) {
        AccountingService a = new AccountingService(() -> holdings(leases), memlock, c -> bus.publish(BrokerEvent.MemlockThreshold.of(c)),
                audit, near);
        EventSources.connect(bus, leases, binding, policy, cache);
        leases.addListener(l -> a.sampleSoon());
        a.start(period);
        return a;
    }

    /** The active leases as memlock accounting sees them. */
    public static List<AccountingService.Holding> holdings(LeaseService leases) {
        return leases.active().stream()
                .map(l -> new AccountingService.Holding(l.id(), l.holder().uid(), l.holder().pid(), l.memlockLimitBytes()))
                .toList();
    }

    @Bean
    UeventHandler ueventHandler(InventoryCache cache, EventBus bus, LeaseService leases) {
        return new UeventHandler(cache, bus, leases);
    }

    @Bean(destroyMethod = "close")
    Hotplug hotplug(SysfsHost host, UeventHandler handler, @Value("${vfio-broker.hotplug.enabled:true}") boolean enabled) {
        return new Hotplug(host, handler, enabled);
    }

    @Bean
    BrokerMetrics brokerMetrics(MeterRegistry registry, InventoryCache cache, LeaseService leases, AccountingService accounting, EventBus bus) {
        return new BrokerMetrics(registry, cache, leases, accounting, bus);
    }

    /** The core every adapter calls: gRPC, REST, the kubelet device plugin, the DRA driver. */
    @Bean
    DeviceProvisioning deviceProvisioning(InventoryScanner scanner, InventoryCache cache, BindingService binding, AuditLog audit,
                                          PolicyService policy) {
        return CoreWiring.provisioning(scanner, cache, binding, audit, policy);
    }

    @Bean
    GrpcServices grpcServices(Authz authz, DeviceProvisioning core, LeaseService leases, PolicyService policy, AccountingService accounting,
                              EventBus bus, MeterRegistry registry, io.vfiobroker.quota.Quotas quotas) {
        return new GrpcServices(authz, List.of(new InventoryGrpcService(core, leases, authz), new PolicyGrpcService(policy, core, authz),
                new AccountingGrpcService(accounting, authz, quotas.streams()), new EventsGrpcService(bus, authz, quotas.streams()),
                new BindingsGrpcService(core, authz)),
                new GrpcMetricsInterceptor(registry));
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnProperty(name = "vfio-broker.grpc.tcp.enabled", havingValue = "true")
    TcpGrpcServer tcpGrpcServer(GrpcServices services, LeaseService leases,
                                @Value("${vfio-broker.grpc.tcp.address:0.0.0.0}") String address,
                                @Value("${vfio-broker.grpc.tcp.port:7443}") int port,
                                @Value("${vfio-broker.grpc.tcp.key-store:}") String keyStore,
                                @Value("${vfio-broker.grpc.tcp.key-store-password:}") String keyStorePassword,
                                @Value("${vfio-broker.grpc.tcp.trust-store:}") String trustStore,
                                @Value("${vfio-broker.grpc.tcp.trust-store-password:}") String trustStorePassword,
                                @Value("${vfio-broker.grpc.tcp.token-file:}") String tokenFile) throws IOException {
        TcpGrpcServer.Settings s = new TcpGrpcServer.Settings(address, port, path(keyStore), keyStorePassword.toCharArray(), path(trustStore),
                trustStorePassword.toCharArray(), path(tokenFile));
        // Remote admins have no fd socket to collect fds from; Leases is still there for List/Get/Release.
        return new TcpGrpcServer(s, services.withLeases(leases, Path.of("/nonexistent")), List.of());
    }

    private static Path path(String s) {
        return s == null || s.isBlank() ? null : Path.of(s);
    }
}
