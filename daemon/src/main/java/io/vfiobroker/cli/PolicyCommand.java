package io.vfiobroker.cli;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.json.DomainJson;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.policy.ExplanationView;
import io.vfiobroker.policy.Explanation;
import io.vfiobroker.policy.Policy;
import io.vfiobroker.policy.PolicyError;
import io.vfiobroker.policy.PolicyException;
import io.vfiobroker.policy.PolicyParser;
import io.vfiobroker.policy.Principal;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

@Command(name = "policy", description = "Check a policy file, or explain what it decides for a principal and a device.",
        subcommands = {PolicyCommand.Check.class, PolicyCommand.Explain.class})
final class PolicyCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "policy needs a subcommand: check or explain");
    }

    @Command(name = "check", description = "Validate a policy file. Exit 0 when valid, 1 when not (each error with line and key).")
    static final class Check extends CliCommand {
        @Parameters(paramLabel = "FILE", description = "policy YAML")
        Path file;

        @Override
        public Integer call() throws IOException {
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                err().println("vfio-broker: " + file + " does not exist");
                return 1;
            }
            try {
                Policy p = PolicyParser.parse(text, file.toString());
                out().println(file + ": valid, " + p.rules().size() + (p.rules().size() == 1 ? " rule" : " rules")
                        + " (" + p.rules().stream().filter(r -> r.isDeny()).count() + " deny)");
                out().flush();
                return 0;
            } catch (PolicyException e) {
                // file:line:column: key: message — the form editors and CI annotate.
                for (PolicyError pe : e.errors()) {
                    err().println(file + ":" + pe.line() + ":" + pe.column() + ": " + (pe.key().isEmpty() ? "" : pe.key() + ": ") + pe.message());
                }
                err().flush();
                return 1;
            }
        }
    }

    @Command(name = "explain", description = "Decide for a principal and a device, read-only, and show the rule chain."
            + " Exit 0 when allowed, 1 when refused.")
    static final class Explain extends CliCommand {
        @Mixin
        HostOptions host;

        @Option(names = "--uid", required = true, description = "the client's uid")
        int uid;

        @Option(names = "--gid", description = "the client's gid (default: the uid's primary group in <root>/etc/passwd)")
        Integer gid;

        @Option(names = "--groups", split = ",", paramLabel = "GID", description = "supplementary gids")
        List<Integer> groups = List.of();

        @Option(names = "--k8s-resource", paramLabel = "NAME", description = "Kubernetes resource name asked for")
        String resource;

        @Option(names = "--policy", paramLabel = "FILE", description = "policy file (default: /etc/vfio-broker/policy.yaml)")
        Path policy = BindingOptions.DEFAULT_POLICY;

        @Parameters(paramLabel = "ADDR", description = "device address DDDD:BB:DD.F")
        String address;

        @Override
        public Integer call() throws IOException {
            PciAddress a = PciAddress.parse(address);
            var facts = host.facts();
            Accounts accounts = facts.accounts();
            int g = gid != null ? gid : accounts.primaryGid(uid).orElseThrow(() -> new CommandLine.ParameterException(
                    spec.commandLine(), "uid " + uid + " is not in the passwd of host " + facts + "; give --gid"));
            Policy p;
            String note = null;
            try {
                p = PolicyParser.parse(Files.readString(policy, StandardCharsets.UTF_8), policy.toString());
            } catch (NoSuchFileException e) {
                p = Policy.defaultDeny();
                note = policy + " does not exist: default deny";
            }
            Explanation e = facts.explain(p, new Principal(uid, g, groups, null, resource), a);
            ExplanationView v = ExplanationView.of(e);
            var out = out();
            if (host.json) {
                out.println(DomainJson.mapper().writeValueAsString(v));
            } else {
                if (note != null) out.println("policy: " + note);
                out.print(v.text());
            }
            out.flush();
            return v.decision().allowed() ? 0 : 1;
        }
    }
}
