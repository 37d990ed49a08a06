package io.vfiobroker.host;

import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/** User and group names and ids, as getpwuid and getgrnam give them; one object answers for one moment. */
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
}
