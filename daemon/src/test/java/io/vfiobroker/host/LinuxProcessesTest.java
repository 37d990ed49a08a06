package io.vfiobroker.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Process facts from a /proc-shaped tree, parsed as the kernel writes them. */
class LinuxProcessesTest {

    @TempDir
    Path proc;

    private Path process(int pid) throws IOException {
        return Files.createDirectories(proc.resolve(Integer.toString(pid)));
    }

    @Test
    void startTimeCountsFieldsFromTheLastParenthesisSoACommCannotShiftThem() throws IOException {
        // comm "a) S 1 (b" would shift every field for a parser that splits from the start.
        Files.writeString(process(42).resolve("stat"), "42 (a) S 1 (b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10\n");
        LinuxProcesses p = new LinuxProcesses(proc);
        assertThat(p.startTime(42)).contains(987654L);
        assertThat(p.startTime(43)).as("gone").isEmpty();
        assertThat(p.startTime(0)).isEmpty();
    }

    @Test
    void statusGivesRealIdsGroupsLockedMemoryAndCapabilities() throws IOException {
        Files.writeString(process(42).resolve("status"), """
                Name:\tqemu
                Uid:\t1000\t0\t0\t0
                Gid:\t100\t100\t100\t100
                Groups:\t10 36 1000\s
                VmLck:\t    2048 kB
                VmPin:\t       4 kB
                CapEff:\t0000000001000000
                """);
        ProcessStatus s = new LinuxProcesses(proc).status(42).orElseThrow();
        assertThat(s.uid()).isEqualTo(1000);
        assertThat(s.gid()).isEqualTo(100);
        assertThat(s.groups()).containsExactly(10, 36, 1000);
        assertThat(s.vmLckBytes()).isEqualTo(2048 * 1024L);
        assertThat(s.vmPinBytes()).isEqualTo(4096L);
        assertThat(s.hasCapability(24)).isTrue();
        assertThat(s.hasCapability(21)).isFalse();
        assertThat(ProcessStatus.parse("Name:\tx\n").uid()).as("no Uid line: an id no process has").isEqualTo(-1);
    }

    @Test
    void memlockLimitAndFdLinks() throws IOException {
        Path p = process(42);
        Files.writeString(p.resolve("limits"), """
                Limit                     Soft Limit           Hard Limit           Units
                Max locked memory         65536                unlimited            bytes
                """);
        Files.createDirectories(p.resolve("fd"));
        Files.createSymbolicLink(p.resolve("fd/3"), Path.of("/dev/vfio/7"));
        Files.createSymbolicLink(p.resolve("fd/4"), Path.of("socket:[99]"));
        Files.writeString(process(43).resolve("limits"), "Max locked memory         unlimited            unlimited            bytes\n");
        LinuxProcesses procs = new LinuxProcesses(proc);
        assertThat(procs.memlockSoftLimit(42)).hasValue(65536);
        assertThat(procs.memlockSoftLimit(43)).hasValue(-1);
        assertThat(procs.fdLinks(42)).isEqualTo(Map.of(3, "/dev/vfio/7", 4, "socket:[99]"));
        assertThat(procs.fdLinks(43)).isEmpty();
        Files.writeString(p.resolve("maps"), """
                55d0c4a00000-55d0c4a02000 r--p 00000000 fe:01 1234                       /usr/bin/sleep
                7f1c2a000000-7f1c2a001000 rw-s 00000000 00:05 77                         /dev/vfio/devices/vfio0
                7f1c2a001000-7f1c2a002000 rw-s 10000000000 00:0e 12                        anon_inode:[vfio-device]
                7f1c2a002000-7f1c2a003000 r--p 00000000 fe:01 99                         /tmp/a file with spaces (deleted)
                7ffd1e000000-7ffd1e021000 rw-p 00000000 00:00 0                          [stack]
                7f1c2a004000-7f1c2a005000 rw-p 00000000 00:00 0
                """);
        // An unlinked file (a cdev whose node vfio-pci's remove deleted) is named by the path it was opened at.
        assertThat(procs.mappedFiles(42)).containsExactlyInAnyOrder("/usr/bin/sleep", "/dev/vfio/devices/vfio0", "anon_inode:[vfio-device]",
                "/tmp/a file with spaces");
        assertThat(procs.mappedFiles(43)).isEmpty();
        assertThat(procs.mappedFiles(-1)).isEmpty();
        assertThat(procs.pids()).containsExactlyInAnyOrderElementsOf(List.of(42, 43));
    }

    @Test
    void theNativePassFindsWhatThePerProcessReadsFindInAFakeTreeAndOnTheRealProc() throws Exception {
        // A /proc-shaped tree: pid 42 holds the group node on fd 9, pid 43 holds something else, pid 44 is skipped.
        for (int pid : List.of(42, 43, 44)) Files.createDirectories(process(pid).resolve("fd"));
        Files.createSymbolicLink(proc.resolve("42/fd/9"), Path.of("/dev/vfio/7"));
        Files.createSymbolicLink(proc.resolve("43/fd/3"), Path.of("/dev/null"));
        Files.createSymbolicLink(proc.resolve("44/fd/9"), Path.of("/dev/vfio/7"));
        LinuxProcesses tree = new LinuxProcesses(proc);
        Processes perProcess = new Processes() { // the port's default pass, over the same tree
            public List<Integer> pids() { return tree.pids(); }
            public boolean alive(int pid) { return tree.alive(pid); }
            public java.util.OptionalInt owner(int pid) { return tree.owner(pid); }
            public java.util.Optional<String> comm(int pid) { return tree.comm(pid); }
            public java.util.Optional<Long> startTime(int pid) { return tree.startTime(pid); }
            public java.util.Optional<ProcessStatus> status(int pid) { return tree.status(pid); }
            public java.util.OptionalLong memlockSoftLimit(int pid) { return tree.memlockSoftLimit(pid); }
            public Map<Integer, String> fdLinks(int pid) { return tree.fdLinks(pid); }
            public java.util.Set<String> mappedFiles(int pid) { return tree.mappedFiles(pid); }
            public java.util.Optional<String> namespace(int pid, String kind) { return tree.namespace(pid, kind); }
            public java.util.OptionalInt ownOwner() { return tree.ownOwner(); }
            public java.util.Optional<ProcessStatus> ownStatus() { return tree.ownStatus(); }
            public java.util.Optional<String> ownFdLink(int fd) { return tree.ownFdLink(fd); }
            public java.util.Optional<String> ownNamespace(String kind) { return tree.ownNamespace(kind); }
        };
        java.util.Set<String> targets = java.util.Set.of("/dev/vfio/7", "/dev/vfio/vfio");

        assertThat(tree.fdsLinkingTo(targets, 44)).containsExactly(new Processes.FdLink(42, 9, "/dev/vfio/7"));
        java.util.Set<String> many = new java.util.HashSet<>(targets); // more texts than one native pass takes
        for (int g = 100; g < 100 + 2 * io.vfiobroker.nativeshim.FdLinks.MAX_TARGETS; g++) many.add("/dev/vfio/" + g);
        assertThat(tree.fdsLinkingTo(many, 44)).containsExactly(new Processes.FdLink(42, 9, "/dev/vfio/7"));
        assertThat(perProcess.fdsLinkingTo(targets, 44)).containsExactly(new Processes.FdLink(42, 9, "/dev/vfio/7"));

        // The real /proc: a child holding a file on fd 7 is found by both, the caller (skipped) is not.
        Path held = Files.createFile(proc.resolve("held"));
        Process child = new ProcessBuilder("bash", "-c", "exec 7<'" + held + "'; echo ready; exec sleep 30").start();
        try (var mine = Files.newInputStream(held)) {
            assertThat(new String(child.getInputStream().readNBytes(6))).isEqualTo("ready\n");
            int self = (int) ProcessHandle.current().pid();
            Processes.FdLink expected = new Processes.FdLink((int) child.pid(), 7, held.toString());
            assertThat(LinuxProcesses.REAL.fdsLinkingTo(java.util.Set.of(held.toString()), self)).containsExactly(expected);
        } finally {
            child.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
    }
}
