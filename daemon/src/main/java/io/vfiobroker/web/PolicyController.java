package io.vfiobroker.web;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.policy.ExplanationView;
import io.vfiobroker.policy.LoadStatus;
import io.vfiobroker.policy.Principal;
import io.vfiobroker.policy.PolicyService;
import jakarta.servlet.http.HttpServletRequest;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import java.util.List;

/** The policy in force, its load status, explanations and reloads over REST. */
@RestController
@RequestMapping("/api/v1/policy")
public class PolicyController {

    private final PolicyService policy;

    public PolicyController(PolicyService policy) {
        this.policy = policy;
    }

    /** @param text the YAML in force, empty under default deny */
    public record PolicyView(String source, LoadStatus status, String text) {
    }

    /** uid and gid are taken as any JSON value so that "abc" is refused in our words, not a parser's. */
    public record ExplainRequest(Object uid, Object gid, List<Integer> groups, String userName, String kubernetesResource,
                                 String address) {
    }

    @GetMapping
    public PolicyView get() {
        return new PolicyView(policy.source().toString(), policy.status(), policy.current().text());
    }

    @PostMapping("/explain")
    public ExplanationView explain(@RequestBody ExplainRequest req, HttpServletRequest http) {
        int uid = id("uid", req.uid());
        int gid = id("gid", req.gid());
        WebCaller c = WebCaller.of(http);
        if (!c.admin() && (uid != c.uid() || gid != primaryGid(uid) || (req.groups() != null && !req.groups().isEmpty())
                || req.userName() != null || req.kubernetesResource() != null)) {
            throw new ResponseStatusException(HttpStatus.FORBIDDEN, "explaining the policy for another principal is for admins: "
                    + "give your own uid " + c.uid() + " and primary gid, no groups, user name or Kubernetes resource");
        }
        PciAddress a = PciAddress.parse(req.address());
        Principal p = new Principal(uid, gid, req.groups(), req.userName(), req.kubernetesResource());
        return ExplanationView.of(policy.explain(p, a));
    }

    /** The primary gid the daemon's passwd gives the uid; the uid itself when it has no entry. */
    static int primaryGid(int uid) {
        return io.vfiobroker.host.LinuxAccounts.REAL.now().primaryGid(uid).orElse(uid);
    }

    private static int id(String what, Object v) {
        if (v == null) throw new IllegalArgumentException("explain needs a " + what);
        try {
            int n = Integer.parseInt(v.toString());
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // fall through to the sentence below
        }
        throw new IllegalArgumentException("invalid " + what + " '" + v + "': expected a non-negative whole number");
    }

    /** 200 when the file is in force (or absent: default deny), 422 when it was rejected and the old one stays. */
    @PostMapping("/reload")
    public ResponseEntity<LoadStatus> reload() {
        LoadStatus st = policy.reload();
        return ResponseEntity.status(st.state() == LoadStatus.State.REJECTED ? 422 : 200).body(st);
    }
}
