package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.ProcessStatus;
import io.vfiobroker.api.v1.ExplainRequest;
import io.vfiobroker.api.v1.GetPolicyRequest;
import io.vfiobroker.api.v1.Limits;
import io.vfiobroker.api.v1.PolicyError;
import io.vfiobroker.api.v1.PolicyGrpc;
import io.vfiobroker.api.v1.PolicyLoadState;
import io.vfiobroker.api.v1.PolicyStatus;
import io.vfiobroker.api.v1.ReloadPolicyRequest;
import io.vfiobroker.api.v1.RuleTrace;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.Explanation;
import io.vfiobroker.policy.LoadStatus;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;

import java.util.List;

/** vfiobroker.v1.Policy: status for everyone, the text and reload for admins, explain for oneself (admins: anyone). */
public record PolicyGrpcService(PolicyService policy, InventoryCache cache, Authz authz) implements PolicyGrpc.AsyncService, BindableService {

    @Override
    public void get(GetPolicyRequest req, StreamObserver<PolicyStatus> out) {
        Calls.respond(out, () -> status(policy.status(), authz.isAdmin(CallerInterceptor.caller()) ? policy.current().text() : null));
    }

    @Override
    public void reload(ReloadPolicyRequest req, StreamObserver<PolicyStatus> out) {
        Calls.respond(out, () -> {
            if (!authz.isAdmin(CallerInterceptor.caller())) throw GrpcErrors.adminRequired("Reload");
            return status(policy.reload(), policy.current().text());
        });
    }

    @Override
    public void explain(ExplainRequest req, StreamObserver<io.vfiobroker.api.v1.Explanation> out) {
        Calls.respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            PciAddress a = InventoryGrpcService.address(req.getAddress(), "address");
            boolean other = (req.hasUid() && req.getUid() != caller.uid()) || (req.hasGid() && req.getGid() != caller.gid()) || req.getGroupsCount() > 0;
            if (other && !authz.isAdmin(caller)) throw GrpcErrors.adminRequired("Explaining the policy for another principal");
            if (req.getGroupsCount() > 1024) throw GrpcErrors.invalid("at most 1024 groups", "groups");
            Principal p;
            if (other) {
                int uid = req.hasUid() ? checked(req.getUid(), "uid") : caller.uid();
                int gid = req.hasGid() ? checked(req.getGid(), "gid") : caller.gid();
                p = new Principal(uid, gid, req.getGroupsList().stream().map(g -> checked(g, "groups")).toList(), null, null);
            } else {
                p = new Principal(caller.uid(), caller.gid(), groups(caller.pid()), null, null);
            }
            return explanation(policy.explain(p, a, cache.snapshot()));
        });
    }

    private static int checked(int v, String field) {
        // uint32 on the wire: values above 2^31 arrive negative and are no uid Linux hands out.
        if (v < 0) throw GrpcErrors.invalid(field + " " + Integer.toUnsignedString(v) + " is out of range", field);
        return v;
    }

    private static List<Integer> groups(int pid) {
        return LinuxProcesses.REAL.status(pid).map(ProcessStatus::groups).orElse(List.of());
    }

    static PolicyStatus status(LoadStatus s, String text) {
        PolicyStatus.Builder b = PolicyStatus.newBuilder()
                .setState(switch (s.state()) {
                    case LOADED -> PolicyLoadState.POLICY_LOAD_STATE_LOADED;
                    case MISSING -> PolicyLoadState.POLICY_LOAD_STATE_MISSING;
                    case REJECTED -> PolicyLoadState.POLICY_LOAD_STATE_REJECTED;
                })
                .setSource(ProtoMapping.nz(s.source())).setMessage(ProtoMapping.nz(s.message())).setActiveSha256(ProtoMapping.nz(s.activeSha256()))
                .setActiveSince(ProtoMapping.nz(s.activeSince())).setActiveRules(s.activeRules()).setCheckedAt(ProtoMapping.nz(s.checkedAt()))
                .setText(ProtoMapping.nz(text));
        for (io.vfiobroker.policy.PolicyError e : s.errors()) {
            b.addErrors(PolicyError.newBuilder().setLine(e.line()).setColumn(e.column()).setKey(ProtoMapping.nz(e.key())).setMessage(ProtoMapping.nz(e.message())));
        }
        return b.build();
    }

    static io.vfiobroker.api.v1.Explanation explanation(Explanation e) {
        Decision d = e.decision();
        io.vfiobroker.api.v1.Explanation.Builder b = io.vfiobroker.api.v1.Explanation.newBuilder()
                .setAddress(e.address().toString()).setUid(e.principal().uid()).setGid(e.principal().gid())
                .setAllowed(d.allowed()).setRule(ProtoMapping.nz(d.rule())).setReason(ProtoMapping.nz(d.reason()));
        if (d instanceof Decision.Allowed a) {
            b.setUnsafeInterrupts(a.unsafeInterrupts());
            b.setLimits(Limits.newBuilder().setMaxDevices(a.maxDevices()).setMemlockBytesPerLease(a.memlockBytesPerLease())
                    .setMemlockBytesPerPrincipal(a.memlockBytesPerPrincipal()).setBackend(a.backends().size() == 1 ? a.limits().backendName() : ""));
        }
        for (Explanation.RuleTrace r : e.chain()) {
            b.addChain(RuleTrace.newBuilder().setRule(r.rule()).setAction(r.action().name().toLowerCase()).setLine(r.line())
                    .setDeviceMatched(r.deviceMatched()).setPrincipalMatched(r.principalMatched())
                    .setOutcome(switch (r.outcome()) {
                        case DECIDED -> RuleTrace.Outcome.OUTCOME_DECIDED;
                        case OVERRIDDEN -> RuleTrace.Outcome.OUTCOME_OVERRIDDEN;
                        case NOT_MATCHED -> RuleTrace.Outcome.OUTCOME_NOT_MATCHED;
                    }).setWhy(ProtoMapping.nz(r.why())));
        }
        if (e.interrupts() != null) b.setInterrupts(e.interrupts().summary());
        if (e.binding() != null) b.setBinding(ProtoMapping.nz(e.binding().reason()));
        return b.build();
    }

    @Override
    public ServerServiceDefinition bindService() {
        return PolicyGrpc.bindService(this);
    }
}
