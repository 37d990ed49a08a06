package io.vfiobroker.lease;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.policy.Hosts;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The backend an Acquire gets: what every grant's rule allows, what the kernel offers, and what the request wants. */
class GrantDeciderBackendTest {

    @TempDir
    Path dir;
    Path root;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void host() {
        root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_IR);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : open) c.close();
    }

    @Test
    void eitherLeavesTheChoiceToTheRequestAndPrefersLegacy() throws IOException {
        GrantDecider either = decider("either", Backend.LEGACY, Backend.IOMMUFD);
        assertThat(backend(either, null)).isEqualTo(Backend.LEGACY);
        assertThat(backend(either, Backend.IOMMUFD)).isEqualTo(Backend.IOMMUFD);
    }

    @Test
    void oneAllowedBackendIsTheOnlyOneARequestOrTheKernelCanGet() throws IOException {
        GrantDecider iommufd = decider("iommufd", Backend.LEGACY, Backend.IOMMUFD);
        assertThat(backend(iommufd, null)).isEqualTo(Backend.IOMMUFD);
        assertThatThrownBy(() -> backend(iommufd, Backend.LEGACY)).isInstanceOf(LeaseException.class)
                .hasMessage("backend legacy is not allowed by rule 'all' (allowed: [iommufd])")
                .extracting(e -> ((LeaseException) e).kind()).isEqualTo(LeaseException.Kind.DENIED);

        GrantDecider legacyKernel = decider("iommufd", Backend.LEGACY);
        assertThatThrownBy(() -> backend(legacyKernel, null))
                .hasMessage("no IOMMU backend both allowed [iommufd] and offered by this kernel [legacy]");
        GrantDecider eitherOnLegacyKernel = decider("either", Backend.LEGACY);
        assertThatThrownBy(() -> backend(eitherOnLegacyKernel, Backend.IOMMUFD)).isInstanceOf(LeaseException.class)
                .hasMessage("backend iommufd is not offered by this kernel (offered: [legacy])");
    }

    private GrantDecider decider(String backend, Backend... offered) throws IOException {
        Path file = Files.writeString(dir.resolve(backend + open.size() + ".yaml"), """
                version: 1
                rules:
                  - name: all
                    action: allow
                    devices: {any: true}
                    principals: {uid: 1000}
                    limits: {backend: %s}
                """.formatted(backend));
        PolicyService policy = new PolicyService(file, Hosts.scanner(root));
        AuditLog audit = new AuditLog(dir.resolve("state"));
        open.add(policy::close);
        open.add(audit::close);
        return new GrantDecider(Hosts.scanner(root), policy, new Offering(List.of(offered)), audit, () -> 0L);
    }

    private static Backend backend(GrantDecider d, Backend wanted) {
        return d.decide(new Caller(1, 1000, 1000), new Principal(1000, 1000, List.of(), null, null), null,
                List.of(Hosts.VF0.toString()), wanted, 0).backend();
    }

    /** Offers backends; opens none (deciding touches nothing). */
    private record Offering(List<Backend> availableBackends) implements DomainOpener {
        @Override
        public DeviceDomain open(List<Member> devices, Backend backend) {
            throw new AssertionError("deciding opens no domain");
        }
    }
}
