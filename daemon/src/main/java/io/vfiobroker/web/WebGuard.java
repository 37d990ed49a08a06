package io.vfiobroker.web;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.web.filter.OncePerRequestFilter;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The one door of the HTTP listener, in front of every path (API, SSE, actuator, console), in this order:
 * <ol>
 * <li>Host must be one of the daemon's own names with its port, else 421: a DNS-rebound page never gets an answer.</li>
 * <li>The path must be canonical (no "..", ";", "//"), else 400: what is checked here is what Spring routes.</li>
 * <li>The caller is identified ({@link HttpIdentity}), else 403.</li>
 * <li>A state-changing request (POST, PUT, PATCH, DELETE) needs no Origin or a same-origin one, and either the
 * caller's CSRF token in {@value #CSRF_HEADER} or {@code Content-Type: application/json}; neither a form nor a
 * {@code no-cors} fetch can send those cross-site without a CORS preflight, which is never answered.</li>
 * <li>Non-admins reach only {@link #clientMay what clients may}; controllers narrow that to the caller's own records.</li>
 * </ol>
 */
public class WebGuard extends OncePerRequestFilter {

    public static final String CSRF_HEADER = "X-VFIO-Broker-CSRF";

    private static final Set<String> STATE_CHANGING = Set.of("POST", "PUT", "PATCH", "DELETE");
    private static final String ID = "[0-9A-Za-z:._-]{1,64}";
    private static final Pattern CLIENT_READS = Pattern.compile("/api/v1/(devices(/" + ID + ")?|groups(/" + ID + ")?|iommu|bindings|whoami"
            + "|leases(/" + ID + ")?|audit|events)|/actuator/health(/[a-z]+)?|/actuator/info");
    private static final Pattern CLIENT_DELETES = Pattern.compile("/api/v1/leases/" + ID);

    private final HttpIdentity identity;
    private final Set<String> hostNames;
    private final byte[] csrfKey = new byte[32];

    /** @param hostNames the daemon's own names (lower case; IPv6 literals in brackets), valid with the listener's port */
    public WebGuard(HttpIdentity identity, Set<String> hostNames) {
        this.identity = identity;
        this.hostNames = Set.copyOf(hostNames);
        new SecureRandom().nextBytes(csrfKey);
    }

    @Override
    protected void doFilterInternal(HttpServletRequest req, HttpServletResponse res, FilterChain chain) throws ServletException, IOException {
        // A Unix-socket caller is no browser (no page can reach a socket file), so any Host will do there.
        WebCaller relayed = identity.relayed(req).orElse(null);
        if (relayed == null && !ownHost(req.getHeader("Host"), req.getLocalPort(), req.isSecure())) {
            refuse(res, 421, "Host '" + req.getHeader("Host") + "' is not a name of this daemon (expected one of " + hostNames + " with port "
                    + req.getLocalPort() + ")");
            return;
        }
        String path = path(req);
        if (path == null) {
            refuse(res, 400, "the request path is not canonical (no '..', '.', ';', '//' or encoded '/' allowed)");
            return;
        }
        WebCaller caller = relayed;
        try {
            if (caller == null) caller = identity.identify(req);
        } catch (HttpIdentity.Unidentified e) {
            refuse(res, 403, e.getMessage());
            return;
        }
        String method = req.getMethod().toUpperCase(Locale.ROOT);
        if ("OPTIONS".equals(method) && req.getHeader("Origin") != null) {
            refuse(res, 403, "no cross-origin requests: vfio-broker answers no CORS preflight");
            return;
        }
        if (STATE_CHANGING.contains(method)) {
            String origin = req.getHeader("Origin");
            String host = req.getHeader("Host");
            String self = (req.isSecure() ? "https://" : "http://") + (host == null ? "" : host.toLowerCase(Locale.ROOT));
            if (origin != null && !origin.toLowerCase(Locale.ROOT).equals(self)) {
                refuse(res, 403, "cross-origin " + method + " refused: Origin '" + origin + "' is not " + self);
                return;
            }
            if (!json(req.getContentType()) && !csrfOk(caller, req.getHeader(CSRF_HEADER))) {
                refuse(res, 403, method + " needs the " + CSRF_HEADER + " header from GET /api/v1/whoami or Content-Type: application/json");
                return;
            }
        }
        if (!caller.admin() && !clientMay(method, path)) {
            refuse(res, 403, method + " " + path + " is for admins (root or the admin group, in the daemon's namespaces); you are uid "
                    + caller.uid() + " (identified by " + caller.via() + ")");
            return;
        }
        req.setAttribute(WebCaller.ATTRIBUTE, caller);
        chain.doFilter(req, res);
    }

    /** What a caller that is not an admin may ask for; everything else is admin-only. */
    static boolean clientMay(String method, String path) {
        boolean api = path.startsWith("/api/") || path.equals("/api") || path.startsWith("/actuator");
        return switch (method) {
            case "GET", "HEAD" -> !api || CLIENT_READS.matcher(path).matches();
            case "POST" -> path.equals("/api/v1/policy/explain"); // for the caller itself: PolicyController
            case "DELETE" -> CLIENT_DELETES.matcher(path).matches(); // own leases only: LeaseController
            default -> false;
        };
    }

    /** The CSRF token of a caller: bound to its uid, so one user's token is nothing to another. */
    public String csrfToken(WebCaller c) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(csrfKey, "HmacSHA256"));
            String who = c.caller().pid() < 0 && c.admin() ? "remote:" + c.via() : "uid:" + c.uid();
            return Base64.getUrlEncoder().withoutPadding().encodeToString(mac.doFinal(who.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private boolean csrfOk(WebCaller c, String token) {
        return token != null && MessageDigest.isEqual(csrfToken(c).getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8));
    }

    private static boolean json(String contentType) {
        if (contentType == null) return false;
        String t = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        return t.equals("application/json");
    }

    boolean ownHost(String host, int port, boolean secure) {
        if (host == null || host.isEmpty() || host.length() > 300) return false;
        String h = host.toLowerCase(Locale.ROOT);
        String name = h;
        String p = null;
        int colon = h.lastIndexOf(':');
        if (colon > h.lastIndexOf(']')) {
            name = h.substring(0, colon);
            p = h.substring(colon + 1);
        }
        if (!hostNames.contains(name)) return false;
        if (p == null) return port == (secure ? 443 : 80);
        return p.equals(Integer.toString(port));
    }

    /** The routed path when the raw URI says the same thing decoded; null for anything Spring might read differently. */
    static String path(HttpServletRequest req) {
        String routed = req.getServletPath() + (req.getPathInfo() == null ? "" : req.getPathInfo());
        String raw = req.getRequestURI().substring(req.getContextPath().length());
        String lower = raw.toLowerCase(Locale.ROOT);
        if (lower.contains("%2f") || lower.contains("%5c") || lower.contains("%25") || raw.contains("\\")) return null;
        String decoded;
        try {
            decoded = URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        if (!decoded.equals(routed) || decoded.contains("//") || decoded.contains("/./") || decoded.contains("/../")
                || decoded.endsWith("/.") || decoded.endsWith("/..")) return null;
        return routed;
    }

    static void refuse(HttpServletResponse res, int status, String detail) throws IOException {
        res.setStatus(status);
        res.setContentType("application/problem+json");
        res.setCharacterEncoding("UTF-8");
        String d = detail.replace("\\", "\\\\").replace("\"", "\\\"");
        res.getWriter().write("{\"status\":" + status + ",\"detail\":\"" + d + "\"}");
    }
}
