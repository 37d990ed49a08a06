package io.vfiobroker.web;

import jakarta.servlet.http.HttpServletRequest;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** GET /api/v1/whoami: who the daemon takes the caller for, what it may do, and its CSRF token for state changes. */
@RestController
@RequestMapping("/api/v1")
public class WhoamiController {

    private final WebGuard guard;

    public WhoamiController(WebGuard guard) {
        this.guard = guard;
    }

    /**
     * @param pid  the process found holding the client socket, -1 when not looked up (only admins need one)
     * @param via  how the caller was identified
     * @param csrf the value of {@value WebGuard#CSRF_HEADER} for this caller's state-changing requests
     */
    public record Whoami(int uid, int pid, boolean admin, String via, String csrfHeader, String csrf) {
    }

    @GetMapping("/whoami")
    public Whoami whoami(HttpServletRequest req) {
        WebCaller c = WebCaller.of(req);
        return new Whoami(c.uid(), c.caller().pid(), c.admin(), c.via(), WebGuard.CSRF_HEADER, guard.csrfToken(c));
    }
}
