package io.vfiobroker.policy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/** User and group names from the host's /etc/passwd and /etc/group (below the host root). */
public interface Accounts {

    Optional<String> userName(int uid);

    OptionalInt primaryGid(int uid);

    OptionalInt groupId(String groupName);

    /** Users /etc/group lists as supplementary members of the group. */
    List<String> members(String groupName);

    Accounts NONE = new Accounts() {
        public Optional<String> userName(int uid) { return Optional.empty(); }
        public OptionalInt primaryGid(int uid) { return OptionalInt.empty(); }
        public OptionalInt groupId(String groupName) { return OptionalInt.empty(); }
        public List<String> members(String groupName) { return List.of(); }
    };

    /** The files below {@code root}, parsed once per call of this method: a snapshot for one decision. */
    static Accounts fromHost(Path root) {
        Map<Integer, String> users = new HashMap<>();
        Map<Integer, Integer> primary = new HashMap<>();
        Map<String, Integer> groupIds = new HashMap<>();
        Map<String, List<String>> members = new HashMap<>();
        // user:x:uid:gid:gecos:home:shell — the first entry for a uid wins, as getpwuid's does.
        for (String[] f : fields(root.resolve("etc/passwd"))) {
            if (f.length < 4) continue;
            Integer uid = intOrNull(f[2]);
            Integer gid = intOrNull(f[3]);
            if (uid == null) continue;
            users.putIfAbsent(uid, f[0]);
            if (gid != null) primary.putIfAbsent(uid, gid);
        }
        // group:x:gid:member,member
        for (String[] f : fields(root.resolve("etc/group"))) {
            if (f.length < 3) continue;
            Integer gid = intOrNull(f[2]);
            if (gid == null) continue;
            groupIds.putIfAbsent(f[0], gid);
            members.putIfAbsent(f[0], f.length > 3 && !f[3].isBlank() ? List.of(f[3].split(",")) : List.of());
        }
        return new Accounts() {
            public Optional<String> userName(int uid) { return Optional.ofNullable(users.get(uid)); }
            public OptionalInt primaryGid(int uid) { return primary.containsKey(uid) ? OptionalInt.of(primary.get(uid)) : OptionalInt.empty(); }
            public OptionalInt groupId(String name) { return groupIds.containsKey(name) ? OptionalInt.of(groupIds.get(name)) : OptionalInt.empty(); }
            public List<String> members(String name) { return members.getOrDefault(name, List.of()); }
        };
    }

    private static List<String[]> fields(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8).stream()
                    .filter(l -> !l.isBlank() && !l.startsWith("#"))
                    .map(l -> l.split(":", -1))
                    .toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return List.of();
        }
    }

    private static Integer intOrNull(String s) {
        try {
            return Integer.valueOf(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
