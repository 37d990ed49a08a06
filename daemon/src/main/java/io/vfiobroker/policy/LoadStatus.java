package io.vfiobroker.policy;

import java.util.List;

/**
 * The outcome of the last attempt to load the policy file, and which policy is in force because of it.
 *
 * @param state        LOADED: the file is in force; MISSING: there is no file, so default deny is in force;
 *                     REJECTED: the file is bad, whatever was in force before stays in force
 * @param source       the policy file's path
 * @param message      one sentence saying the above for this case
 * @param errors       what was wrong with a REJECTED file (line, key, message)
 * @param activeSha256 sha256 of the text in force, null for default deny
 * @param activeSince  when the policy in force was loaded (ISO-8601)
 * @param activeRules  number of rules in force
 * @param checkedAt    when the file was last looked at (ISO-8601)
 */
public record LoadStatus(State state, String source, String message, List<PolicyError> errors, String activeSha256,
                         String activeSince, int activeRules, String checkedAt) {

    public enum State { LOADED, MISSING, REJECTED }

    public LoadStatus {
        errors = List.copyOf(errors);
    }
}
