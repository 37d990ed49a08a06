package io.vfiobroker.policy;

import io.vfiobroker.host.Accounts;

import java.util.List;

/**
 * Who a rule covers. Any one entry matching is enough (OR across all lists); {@code any} covers everyone.
 * Group criteria match the primary gid, the supplementary groups the caller supplied, and the groups
 * /etc/group lists the user as a member of.
 */
public record PrincipalSelector(boolean any, List<Integer> uids, List<Integer> gids, List<String> users,
                                List<String> groups, List<String> kubernetesResources) {

    public static final PrincipalSelector ANY = new PrincipalSelector(true, List.of(), List.of(), List.of(), List.of(), List.of());

    public PrincipalSelector {
        uids = List.copyOf(uids);
        gids = List.copyOf(gids);
        users = List.copyOf(users);
        groups = List.copyOf(groups);
        kubernetesResources = List.copyOf(kubernetesResources);
    }

    public boolean usesNames() {
        return !users.isEmpty() || !groups.isEmpty();
    }

    /** Whether the principal is covered; {@code why} gets the clause that decided. */
    public boolean matches(Principal p, Accounts accounts, List<String> why) {
        if (any) return note(why, "any principal", true);
        if (uids.contains(p.uid())) return note(why, "uid " + p.uid() + " is listed", true);
        if (p.kubernetesResource() != null && kubernetesResources.contains(p.kubernetesResource())) {
            return note(why, "resource " + p.kubernetesResource() + " is listed", true);
        }
        List<Integer> gidsOfP = new java.util.ArrayList<>();
        gidsOfP.add(p.gid());
        gidsOfP.addAll(p.groups());
        for (Integer g : gidsOfP) if (gids.contains(g)) return note(why, "gid " + g + " is listed", true);
        if (usesNames()) {
            String user = p.userName() != null ? p.userName() : accounts.userName(p.uid()).orElse(null);
            if (user != null && users.contains(user)) return note(why, "user " + user + " is listed", true);
            for (String group : groups) {
                var gid = accounts.groupId(group);
                if (gid.isPresent() && gidsOfP.contains(gid.getAsInt())) return note(why, "member of group " + group + " (gid " + gid.getAsInt() + ")", true);
                if (user != null && accounts.members(group).contains(user)) return note(why, "user " + user + " is a member of group " + group, true);
            }
        }
        return note(why, p.describe() + " is not among " + describe(), false);
    }

    public String describe() {
        if (any) return "any";
        List<String> parts = new java.util.ArrayList<>();
        if (!uids.isEmpty()) parts.add("uids " + uids);
        if (!gids.isEmpty()) parts.add("gids " + gids);
        if (!users.isEmpty()) parts.add("users " + users);
        if (!groups.isEmpty()) parts.add("groups " + groups);
        if (!kubernetesResources.isEmpty()) parts.add("kubernetesResources " + kubernetesResources);
        return String.join(", ", parts);
    }

    private static boolean note(List<String> why, String s, boolean result) {
        if (why != null) why.add(s);
        return result;
    }
}
