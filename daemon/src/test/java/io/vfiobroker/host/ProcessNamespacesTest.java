package io.vfiobroker.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Namespace comparison on a /proc-shaped tree: links as the kernel shows them, and kernels built without a kind. */
class ProcessNamespacesTest {

    @TempDir
    Path proc;

    private void process(String pid, String pidNs, String userNs) throws IOException {
        Path ns = Files.createDirectories(proc.resolve(pid).resolve("ns"));
        if (pidNs != null) Files.createSymbolicLink(ns.resolve("pid"), Path.of("pid:[" + pidNs + "]"));
        if (userNs != null) Files.createSymbolicLink(ns.resolve("user"), Path.of("user:[" + userNs + "]"));
    }

    @Test
    void aProcessInTheDaemonsNamespacesIsTheSame() throws IOException {
        process("self", "4026531836", "4026531837");
        process("42", "4026531836", "4026531837");
        assertThat(new LinuxProcesses(proc).inOwnNamespaces(42)).isTrue();
        assertThat(new LinuxProcesses(proc).samePidNamespace(42, 42)).isTrue();
    }

    @Test
    void anotherPidOrUserNamespaceIsNot() throws IOException {
        process("self", "4026531836", "4026531837");
        process("42", "4026532999", "4026531837");
        process("43", "4026531836", "4026532998");
        Processes ns = new LinuxProcesses(proc);
        assertThat(ns.inOwnNamespaces(42)).isFalse();
        assertThat(ns.inOwnNamespaces(43)).isFalse();
        assertThat(ns.samePidNamespace(42, 43)).isFalse();
    }

    @Test
    void aGoneOrUnreadableProcessIsNeverTheSame() throws IOException {
        process("self", "4026531836", "4026531837");
        process("44", null, null);   // the links exist for the daemon but can't be read for this one
        Processes ns = new LinuxProcesses(proc);
        assertThat(ns.inOwnNamespaces(44)).isFalse();
        assertThat(ns.inOwnNamespaces(45)).as("no such pid").isFalse();
        assertThat(ns.inOwnNamespaces(0)).isFalse();
        assertThat(ns.samePidNamespace(44, 44)).isFalse();
    }

    @Test
    void aKernelWithoutNamespacesHasOneOfEachSharedByAll() throws IOException {
        // CONFIG_NAMESPACES=n (the VM suite's tinyconfig kernel): /proc/PID/ns has no pid or user link at all.
        process("self", null, null);
        process("42", null, null);
        Processes ns = new LinuxProcesses(proc);
        assertThat(ns.inOwnNamespaces(42)).isTrue();
        assertThat(ns.samePidNamespace(42, 42)).isTrue();
        assertThat(ns.inOwnNamespaces(45)).as("still: the pid must exist").isFalse();
        assertThat(ns.samePidNamespace(42, 45)).isFalse();
    }
}
