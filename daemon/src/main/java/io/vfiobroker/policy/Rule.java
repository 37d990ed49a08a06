package io.vfiobroker.policy;

/**
 * One policy rule: which devices, to whom, and (for allow rules) with which limits.
 *
 * @param name       unique in the file; decisions and audit records name it
 * @param action     ALLOW grants, DENY refuses and wins over every allow rule
 * @param devices    the devices it covers
 * @param principals the principals it covers
 * @param limits     effective limits (the file's defaults with the rule's own keys over them); null for deny rules
 * @param line       1-based line of the rule in the file, for explanations
 */
public record Rule(String name, Action action, DeviceSelector devices, PrincipalSelector principals, Limits limits, int line) {

    public enum Action { ALLOW, DENY }

    public boolean isDeny() {
        return action == Action.DENY;
    }
}
