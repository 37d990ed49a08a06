package io.vfiobroker.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/** {@link Accounts} from etc/passwd and etc/group below a root, parsed again only when one of them changed. */
public final class LinuxAccounts {

    /** The daemon's own /etc: admin groups and callers' primary groups are the real host's. */
    public static final LinuxAccounts REAL = new LinuxAccounts(Path.of("/"));

    private record Parsed(Optional<FileVersion> passwd, Optional<FileVersion> group, Accounts accounts) {
    }

    private final Path passwd;
    private final Path group;
    private volatile Parsed parsed;

    public LinuxAccounts(Path root) {
        this.passwd = root.resolve("etc/passwd");
        this.group = root.resolve("etc/group");
    }

    /** The accounts now, for one decision: an unreadable file reads as empty. */
    public Accounts now() {
        Optional<FileVersion> p = version(passwd);
        Optional<FileVersion> g = version(group);
        Parsed a = parsed;
        if (a == null || !a.passwd().equals(p) || !a.group().equals(g)) {
            a = new Parsed(p, g, parse());
            parsed = a;
        }
        return a.accounts();
    }

    private static Optional<FileVersion> version(Path f) {
        try {
            return FileVersion.of(f);
        } catch (IOException e) {
            return Optional.empty(); // unreadable reads as absent, as parse treats it
        }
    }

    private Accounts parse() {
        Map<Integer, String> users = new HashMap<>();
        Map<Integer, Integer> primary = new HashMap<>();
        Map<String, Integer> groupIds = new HashMap<>();
        Map<String, List<String>> members = new HashMap<>();
        // user:x:uid:gid:gecos:home:shell — the first entry for a uid wins, as getpwuid's does.
        for (String[] f : fields(passwd)) {
            if (f.length < 4) continue;
            Integer uid = intOrNull(f[2]);
            Integer gid = intOrNull(f[3]);
            if (uid == null) continue;
            users.putIfAbsent(uid, f[0]);
            if (gid != null) primary.putIfAbsent(uid, gid);
        }
        // group:x:gid:member,member
        for (String[] f : fields(group)) {
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
