package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Real syscalls between this JVM (root) and a child JVM, mostly running as uid/gid 65534. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CrossProcessTest {
    private Path dir;

    @BeforeEach
    void worldReachableDir() throws IOException {
        dir = Files.createTempDirectory("vb-xproc-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @AfterEach
    void cleanUp() {
        Child.deleteTree(dir);
    }

    @Test
    void aNobodyClientReadsARootOnlyFileThroughTheFdItReceivesAndTheDaemonSeesItsTrueIdentity() throws Exception {
        Path secret = dir.resolve("secret");
        Files.writeString(secret, "secret-42");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Path sockPath = dir.resolve("fd.sock");
        try (OwnedFd listener = UnixSockets.listen(sockPath, SocketType.STREAM, 4);
                OwnedFd file = Posix.open(secret, LibcAbi.O_RDONLY);
                Child child = Child.start(Child.As.NOBODY)) {
            Files.setPosixFilePermissions(sockPath, PosixFilePermissions.fromString("rwxrwxrwx"));
            assertThat(child.ask("open " + secret)).isEqualTo("error EACCES");

            child.send("recv-read " + sockPath);
            try (OwnedFd conn = UnixSockets.accept(listener.fd())) {
                PeerCredentials peer = UnixSockets.peerCred(conn.fd());
                assertThat(peer).isEqualTo(new PeerCredentials((int) child.pid(), Child.NOBODY, Child.NOBODY));
                UnixSockets.sendFds(conn.fd(), "lease-1".getBytes(StandardCharsets.UTF_8), file.fd());
            }
            assertThat(child.reply()).isEqualTo("payload=lease-1 fds=1 content=secret-42");
        }
    }

    @Test
    void theDaemonSeesTheClientsSupplementaryGroupsAsOfItsConnect() throws Exception {
        Path sockPath = dir.resolve("groups.sock");
        try (OwnedFd listener = UnixSockets.listen(sockPath, SocketType.STREAM, 4);
                Child inGroups = Child.start(Child.As.NOBODY_IN_GROUPS);
                Child noGroups = Child.start(Child.As.NOBODY)) {
            Files.setPosixFilePermissions(sockPath, PosixFilePermissions.fromString("rwxrwxrwx"));
            assertThat(inGroups.ask("connect-hold " + sockPath)).isEqualTo("connected");
            try (OwnedFd conn = UnixSockets.accept(listener.fd())) {
                assertThat(UnixSockets.peerGroups(conn.fd())).containsExactly(27, 100);
            }
            assertThat(noGroups.ask("connect-hold " + sockPath)).isEqualTo("connected");
            try (OwnedFd conn = UnixSockets.accept(listener.fd())) {
                assertThat(UnixSockets.peerGroups(conn.fd())).isEmpty();
            }
        }
    }

    @Test
    void aPidfdBecomesReadableWhenTheChildExits() throws Exception {
        try (Child child = Child.start(Child.As.ROOT); Pidfd pidfd = Pidfd.open(child.pid())) {
            assertThat(pidfd.hasExited()).isFalse();
            child.closeStdin(); // ChildMain returns from main on EOF
            assertThat(pidfd.awaitExit(Duration.ofSeconds(30))).isTrue();
            assertThat(child.process().waitFor()).isZero();
        }
    }

    @Test
    void sigkillThroughThePidfdIsSeenAsAnExit() throws Exception {
        try (Child child = Child.start(Child.As.NOBODY); Pidfd pidfd = Pidfd.open(child.pid())) {
            long t0 = System.nanoTime();
            pidfd.sendSignal(LibcAbi.SIGKILL);
            assertThat(pidfd.awaitExit(Duration.ofSeconds(10))).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(1000));
            assertThat(child.process().waitFor()).isEqualTo(128 + LibcAbi.SIGKILL);
        }
    }

    // Both sides of the CAP_SYS_RESOURCE rule are shown by callers whose capabilities the test sets, not by this
    // JVM's (which differ between machines): the success with the capability needs a root that holds it (VM suite).
    @Test
    void prlimitOnAnotherUsersProcessIsRefusedWithoutCapSysResource() throws Exception {
        try (Child daemon = Child.start(Child.As.ROOT_WITHOUT_SYS_RESOURCE); Child client = Child.start(Child.As.NOBODY)) {
            String before = client.ask("memlock");
            assertThat(daemon.ask("prlimit-memlock " + client.pid() + " " + (2L << 20) + " " + (2L << 20))).isEqualTo("error EPERM");
            assertThat(client.ask("memlock")).isEqualTo(before);
        }
    }

    @Test
    void prlimitOnAProcessOfTheSameUserNeedsNoCapabilityToLowerItsLimit() throws Exception {
        try (Child daemon = Child.start(Child.As.NOBODY); Child client = Child.start(Child.As.NOBODY)) {
            long current = Long.parseLong(client.ask("memlock").split(" ")[2]);
            long hard = current <= 0 || current > (8L << 20) ? 8L << 20 : current; // <= 0: RLIM_INFINITY
            String limit = (hard / 4) + " " + (hard / 2);
            assertThat(daemon.ask("prlimit-memlock " + client.pid() + " " + limit)).isEqualTo("limited");
            assertThat(client.ask("memlock")).isEqualTo("memlock " + limit);
            // raising the hard limit again is what needs the capability, even for the same user
            assertThat(daemon.ask("prlimit-memlock " + client.pid() + " " + hard + " " + hard)).isEqualTo("error EPERM");
        }
    }

    @Test
    void aMemlockLimitSetWithPrlimitBindsTheChildAndItsLockedMemoryShowsInVmLck() throws Exception {
        long soft = 4L << 20;
        long hard = 8L << 20;
        try (Child child = Child.start(Child.As.ROOT_WITHOUT_IPC_LOCK)) {
            Rlimits.setMemlock(child.pid(), new Rlimits.Rlimit(soft, hard));

            assertThat(child.ask("memlock")).isEqualTo("memlock " + soft + " " + hard);
            assertThat(Rlimits.getMemlock(child.pid())).isEqualTo(new Rlimits.Rlimit(soft, hard));
            assertThat(procLine(child.pid(), "limits", "Max locked memory")).matches(
                    "Max locked memory\\s+" + soft + "\\s+" + hard + "\\s+bytes\\s*");

            long before = vmLckKb(child.pid());
            assertThat(child.ask("lock " + (1 << 20))).isEqualTo("locked");
            assertThat(vmLckKb(child.pid())).isGreaterThanOrEqualTo(before + 1024);
            assertThat(child.ask("lock " + (16 << 20))).isEqualTo("error ENOMEM"); // above the limit we set
        }
    }

    private static long vmLckKb(long pid) throws IOException {
        String line = procLine(pid, "status", "VmLck:");
        return Long.parseLong(line.replaceAll("\\D+", ""));
    }

    private static String procLine(long pid, String file, String prefix) throws IOException {
        return Files.readAllLines(Path.of("/proc", Long.toString(pid), file)).stream()
                .filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
    }
}
