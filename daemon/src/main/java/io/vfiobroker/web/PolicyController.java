package io.vfiobroker.web;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.policy.ExplanationView;
import io.vfiobroker.policy.LoadStatus;
import io.vfiobroker.policy.Principal;
import io.vfiobroker.policy.PolicyService;
import org.springframework.http.ResponseEntity;
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

    public record ExplainRequest(Integer uid, Integer gid, List<Integer> groups, String userName, String kubernetesResource,
                                 String address) {
    }

    @GetMapping
    public PolicyView get() {
        return new PolicyView(policy.source().toString(), policy.status(), policy.current().text());
    }

    @PostMapping("/explain")
    public ExplanationView explain(@RequestBody ExplainRequest req) {
        if (req.uid() == null) throw new IllegalArgumentException("explain needs a uid");
        if (req.gid() == null) throw new IllegalArgumentException("explain needs a gid");
        PciAddress a = PciAddress.parse(req.address());
        Principal p = new Principal(req.uid(), req.gid(), req.groups(), req.userName(), req.kubernetesResource());
        return ExplanationView.of(policy.explain(p, a));
    }

    /** 200 when the file is in force (or absent: default deny), 422 when it was rejected and the old one stays. */
    @PostMapping("/reload")
    public ResponseEntity<LoadStatus> reload() {
        LoadStatus st = policy.reload();
        return ResponseEntity.status(st.state() == LoadStatus.State.REJECTED ? 422 : 200).body(st);
    }
}
