package io.vfiobroker.web;

import io.vfiobroker.authz.BearerTokens;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.filter.OncePerRequestFilter;

import java.io.IOException;
import java.util.Set;

/**
 * The door of a separate management listener ({@code management.server.port}, the chart's pod-IP port for kubelet
 * probes and Prometheus), which {@link WebGuard} does not cover and which anyone on the pod network reaches:
 * health probes (no details) for everyone, {@code /actuator/prometheus} only with a bearer token from
 * {@code vfio-broker.metrics.token-file}, nothing else, and only GET.
 */
public class ManagementGuard extends OncePerRequestFilter {

    private static final Set<String> PROBES = Set.of("/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness");
    static final String METRICS = "/actuator/prometheus";

    private final BearerTokens metricsTokens;

    public ManagementGuard(BearerTokens metricsTokens) {
        this.metricsTokens = metricsTokens;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain) throws ServletException, IOException {
        String path = req.getRequestURI();
        if (!"GET".equals(req.getMethod()) && !"HEAD".equals(req.getMethod())) {
            WebGuard.refuse(res, 405, req.getMethod() + " is not served on the management port (health probes and metrics, GET only)");
            return;
        }
        if (PROBES.contains(path)) {
            chain.doFilter(req, res);
            return;
        }
        if (METRICS.equals(path)) {
            if (metricsTokens.isEmpty()) {
                WebGuard.refuse(res, 403, METRICS + " on the management port needs vfio-broker.metrics.token-file (a bearer token per line)");
                return;
            }
            if (!metricsTokens.accepts(req.getHeader("Authorization"))) {
                res.setHeader("WWW-Authenticate", "Bearer");
                WebGuard.refuse(res, 401, METRICS + " needs a bearer token from vfio-broker.metrics.token-file");
                return;
            }
            chain.doFilter(req, res);
            return;
        }
        WebGuard.refuse(res, 404, "'" + path + "' is not served on the management port: only " + PROBES + " and " + METRICS);
    }
}
