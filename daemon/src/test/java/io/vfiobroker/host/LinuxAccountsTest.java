package io.vfiobroker.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Users and groups from a host tree's etc/, read again once a file is replaced. */
class LinuxAccountsTest {

    @TempDir
    Path root;

    @Test
    void namesIdsAndMembersAndAReplacedFileIsReadAgain() throws IOException {
        Files.createDirectories(root.resolve("etc"));
        Files.writeString(root.resolve("etc/passwd"), "# comment\nalice:x:1000:100::/home/alice:/bin/sh\nalias:x:1000:7::/:/bin/sh\n");
        Files.writeString(root.resolve("etc/group"), "users:x:100:\nkvm:x:36:alice,bob\n");
        LinuxAccounts accounts = new LinuxAccounts(root);
        Accounts a = accounts.now();
        assertThat(a.userName(1000)).contains("alice");
        assertThat(a.primaryGid(1000)).as("the first entry wins, as getpwuid's").hasValue(100);
        assertThat(a.groupId("kvm")).hasValue(36);
        assertThat(a.members("kvm")).containsExactly("alice", "bob");
        assertThat(a.primaryGid(1001)).isEmpty();
        assertThat(accounts.now()).as("unchanged files: the same parse").isSameAs(a);

        Path tmp = root.resolve("etc/group.new");
        Files.writeString(tmp, "users:x:100:\nkvm:x:78:\n");
        Files.move(tmp, root.resolve("etc/group"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThat(accounts.now().groupId("kvm")).hasValue(78);
    }

    @Test
    void missingFilesReadAsNoAccounts() {
        Accounts a = new LinuxAccounts(root).now();
        assertThat(a.userName(0)).isEmpty();
        assertThat(a.groupId("root")).isEmpty();
    }
}
