package io.vfiobroker.web;

import io.vfiobroker.lease.Caller;
import jakarta.servlet.http.HttpServletRequest;

/**
 * Who sent an HTTP request, as the kernel says (or as a TLS client certificate / bearer token proves), and
 * whether that caller is an admin. Put on the request by {@link WebGuard}; every controller reads it from there.
 *
 * @param via how the caller was identified: "inet_diag", "unix socket", "client certificate", "bearer token"
 */
public record WebCaller(Caller caller, boolean admin, String via) {

    static final String ATTRIBUTE = WebCaller.class.getName();

    public int uid() {
        return caller.uid();
    }

    /** The caller of a request {@link WebGuard} let through; it sets one on every request it passes. */
    public static WebCaller of(HttpServletRequest request) {
        Object c = request.getAttribute(ATTRIBUTE);
        if (c instanceof WebCaller w) return w;
        throw new IllegalStateException("request without an identified caller");
    }
}
