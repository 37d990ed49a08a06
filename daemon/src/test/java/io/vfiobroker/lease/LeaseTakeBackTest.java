package io.vfiobroker.lease;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.Posix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Taking leases back (revoke, withdrawn grant, restart) and a lease being exactly its grant, with real client
 * processes, real pidfds and real SIGKILLs; only the VFIO ioctls are the file-backed twin.
 */
class LeaseTakeBackTest {

    static final int NOBODY = 65534;
    static final String VF_ID = "8086:154c";
    static final String GPU = "10de:24b0";
    static final String GPU_AUDIO = "10de:228b";

    LeaseFixture f;

    static String policy(int graceSeconds, String extraRules) {
        return """
                version: 1
                leases:
                  revokeGraceSeconds: %d
                rules:
                  - name: nobody-vfs
                    action: allow
                    devices:
                      vendorDevice: "8086:154c"
                    principals:
                      uid: [65534, 0]
                    limits:
                      maxDevices: 64
                      memlockPerLease: unlimited
                %s""".formatted(graceSeconds, extraRules);
    }

    @AfterEach
    void stop() throws IOException {
        if (f != null) f.close();
    }

    private Caller self(int uid) {
        return new Caller((int) ProcessHandle.current().pid(), uid, uid);
    }

    @Test
    void aLegacyLeaseNeedsAGrantForEveryMemberOfItsGroup() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(1, """
                  - name: gpu
                    action: allow
                    devices: {vendorDevice: "10de:24b0"}
                    principals: {uid: 0}
                    limits: {memlockPerLease: unlimited}
                  - name: no-audio
                    action: deny
                    devices: {vendorDevice: "10de:228b"}
                    principals: {any: true}
                """));
        String gpu = f.address(GPU);
        String audio = f.address(GPU_AUDIO);
        String before = f.driver(gpu);

        assertThatThrownBy(() -> f.leases.acquire(self(0), List.of(gpu), null, 0))
                .isInstanceOf(LeaseException.class)
                .hasMessageContaining(audio).hasMessageContaining("shares IOMMU group").hasMessageContaining("no-audio")
                .satisfies(e -> assertThat(((LeaseException) e).rule()).isEqualTo("no-audio"));
        assertThat(f.driver(gpu)).isEqualTo(before);
        assertThat(f.driver(audio)).isEqualTo("snd_hda_intel");
        assertThat(f.leases.active()).isEmpty();
        assertThat(f.audit()).contains("acquire-refused").contains(audio);
    }

    @Test
    void aLegacyLeaseCoversCountsAndResetsItsGroupMembers() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(1, """
                  - name: gpu-one
                    action: allow
                    devices: {vendorDevice: ["10de:24b0", "10de:228b"]}
                    principals: {uid: 0}
                    limits: {maxDevices: 1, memlockPerLease: unlimited}
                """));
        String gpu = f.address(GPU);
        String audio = f.address(GPU_AUDIO);
        assertThatThrownBy(() -> f.leases.acquire(self(0), List.of(gpu), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("asks for 2").hasMessageContaining("IOMMU group members")
                .hasMessageContaining("at most 1");
        assertThat(f.leases.active()).isEmpty();

        Files.writeString(f.policyFile, Files.readString(f.policyFile).replace("maxDevices: 1", "maxDevices: 2"));
        f.policy.reload();
        Map.Entry<Lease, String> granted = f.leases.acquire(self(0), List.of(gpu), null, 0);
        Lease l = granted.getKey();
        assertThat(l.devices()).extracting(d -> d.address().toString()).containsExactly(gpu);
        assertThat(l.groupMembers()).extracting(d -> d.address().toString()).containsExactly(audio);
        assertThat(f.driver(audio)).isEqualTo("vfio-pci");
        // The handover carries a device fd for the member too: the group fd would open it anyway.
        try (LeaseService.Handover h = f.leases.redeem(granted.getValue(), self(0))) {
            assertThat(h.fds()).extracting(x -> x.device()).contains(gpu, audio);
        }
        int resetsBefore = f.kernel.resets(gpu) + f.kernel.resets(audio);
        f.leases.release(l.id(), self(0));
        assertThat(f.leases.awaitEnded(l.id(), Duration.ofSeconds(10))).isTrue();
        assertThat(f.kernel.resets(gpu) + f.kernel.resets(audio) - resetsBefore).isEqualTo(2);
        assertThat(f.driver(audio)).isEqualTo("snd_hda_intel");
        assertThat(f.audit()).contains("\"groupMembers\":\"[" + audio + "]\"");
    }

    @Test
    void aRevokedClientThatKeepsItsFdsIsKilledAfterTheGraceAndTheDeviceRestored() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(1, ""));
        String vf = f.address(VF_ID);
        Process p = f.client(NOBODY, vf);
        List<String> out = LeaseFixture.linesUntil(p, "READY");
        assertThat(out).last().isEqualTo("READY");
        String id = out.get(0).split(" ")[1];

        long t0 = System.nanoTime();
        Lease now = f.leases.revoke(id, "revoked by admin").orElseThrow();
        assertThat(now.state()).isEqualTo(Lease.State.ENDING);
        assertThat(now.endReason()).isEqualTo("revoked by admin");
        // During the grace the client lives: it has been told, and may let go by itself.
        assertThat(f.leases.get(id).orElseThrow().state()).isEqualTo(Lease.State.ENDING);
        assertThat(p.isAlive()).isTrue();

        Lease ended = f.nextChange(id, Lease.State.ENDED, Duration.ofSeconds(20));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(ms).as("ended no earlier than the 1 s grace").isGreaterThanOrEqualTo(1000);
        assertThat(p.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("SIGKILL").isEqualTo(128 + LibcAbi.SIGKILL);
        assertThat(ended.endReason()).isEqualTo("revoked by admin");
        assertThat(f.driver(vf)).isEqualTo("iavf");
        assertThat(f.audit()).contains("lease-holder-killed").contains("\"pid\":\"" + p.pid() + "\"");
    }

    @Test
    void aClientThatLetsGoWithinTheGraceIsNotKilled() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(10, ""));
        String vf = f.address(VF_ID);
        Process p = f.client(NOBODY, vf);
        String id = LeaseFixture.linesUntil(p, "READY").get(0).split(" ")[1];
        f.leases.revoke(id, "revoked by admin");
        // What a cooperating client does on the notice: close its fds (and release, which the lease already is).
        p.getOutputStream().write("release\n".getBytes());
        p.getOutputStream().flush();
        assertThat(f.nextChange(id, Lease.State.ENDED, Duration.ofSeconds(8)).endReason()).isEqualTo("revoked by admin");
        // The client exits by itself once it has let go: status 0, not SIGKILL's.
        assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("the client's own exit").isZero();
        assertThat(f.audit()).doesNotContain("lease-holder-killed");
        assertThat(f.driver(vf)).isEqualTo("iavf");
    }

    @Test
    void whileOneLeaseIsBeingTakenBackTheBrokerServesEveryOtherGroup() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(60, ""));
        List<String> vfs = f.scanner.scan().devices().stream().filter(d -> d.vendorDevice().equals(VF_ID))
                .map(d -> d.address().toString()).sorted().toList();
        Process p = f.client(NOBODY, vfs.get(0));
        String id = LeaseFixture.linesUntil(p, "READY").get(0).split(" ")[1];
        f.leases.revoke(id, "revoked by admin");

        // Its group can't be acquired, and says why.
        assertThatThrownBy(() -> f.leases.acquire(self(NOBODY), List.of(vfs.get(0)), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("is being taken back (revoked by admin)");
        // Every other group is served meanwhile, bind and restore included.
        for (int i = 1; i < 4; i++) {
            Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vfs.get(i)), null, 0);
            assertThat(f.driver(vfs.get(i))).isEqualTo("vfio-pci");
            Lease r = f.leases.release(g.getKey().id(), self(NOBODY));
            assertThat(r.state()).isEqualTo(Lease.State.ENDED);
            assertThat(f.driver(vfs.get(i))).isEqualTo("iavf");
        }
        assertThat(f.leases.get(id).orElseThrow().state()).isEqualTo(Lease.State.ENDING);
        assertThat(p.isAlive()).isTrue();
    }

    /** The simulated kernel's unbind of {@code address} waits while this file exists, as vfio-pci's waits for a device's last fd. */
    private Path blockUnbind(String address) throws IOException {
        Path block = f.root.resolve(".sim/block/" + address);
        Files.createDirectories(block.getParent());
        return Files.writeString(block, "");
    }

    /** An admin's revoke, answered once the lease is STUCK: its unbind has waited past the 5 s watch. */
    private Lease revokeUntilStuck(String id) throws Exception {
        f.leases.revoke(id, "revoked by admin");
        return f.nextChange(id, Lease.State.STUCK, Duration.ofSeconds(LeaseEnder.UNBIND_STUCK_MS / 1000 + 10));
    }

    @Test
    void aLeaseWhoseUnbindTheKernelHoldsIsStuckSaysWhyAndHoldsUpNothingElse() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""));
        List<String> vfs = f.scanner.scan().devices().stream().filter(d -> d.vendorDevice().equals(VF_ID))
                .map(d -> d.address().toString()).sorted().toList();
        String vf = vfs.get(0);
        Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vf), null, 0);
        String id = g.getKey().id();
        Path block = blockUnbind(vf);
        try {
            Lease stuck = revokeUntilStuck(id);
            assertThat(stuck.stuckHolders()).last().asString().contains("vfio-pci has not let go").contains("unbind");
            assertThat(f.leases.get(id).orElseThrow().state()).isEqualTo(Lease.State.STUCK);
            assertThatThrownBy(() -> f.leases.acquire(self(NOBODY), List.of(vf), null, 0))
                    .isInstanceOf(LeaseException.class).hasMessageContaining("is stuck").hasMessageContaining("vfio-pci has not let go");
            assertThat(f.audit()).contains("lease-stuck");
            // Another group binds, leases and restores meanwhile.
            Map.Entry<Lease, String> other = f.leases.acquire(self(NOBODY), List.of(vfs.get(1)), null, 0);
            assertThat(f.leases.release(other.getKey().id(), self(NOBODY)).state()).isEqualTo(Lease.State.ENDED);
            assertThat(f.driver(vfs.get(1))).isEqualTo("iavf");
        } finally {
            Files.deleteIfExists(block);
        }
        assertThat(f.nextChange(id, Lease.State.ENDED, Duration.ofSeconds(20)).endReason()).isEqualTo("revoked by admin");
        assertThat(f.driver(vf)).isEqualTo("iavf");
    }

    @Test
    void aProcessMappingTheLeasesFileWithNoFdLeftIsNamedAndKilledOnceTheUnbindHangs() throws Exception {
        // The ticket outlives a slow machine: an expired one would end the lease while the mapper still held its fd.
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""), Duration.ofMinutes(5));
        String vf = f.address(VF_ID);
        Lease lease = f.leases.acquire(self(NOBODY), List.of(vf), null, 0).getKey();
        // The group node of the generated tree is a file: something to map. On a real host the mapped file is the
        // device's cdev (or its anonymous device file); mapped, it stays open after the last fd, and vfio-pci's unbind
        // waits for it, as the simulated kernel's waits while the block file exists.
        Path node = f.root.resolve("dev/vfio/" + lease.groups().get(0));
        Files.write(node, new byte[4096]);
        mapperIsNamedAndKilled(vf, lease.id(), node);
        assertThat(f.audit()).contains("lease-holder-killed");
    }

    @Test
    void aProcessMappingTheLeasesCdevIsKilledThoughTheUnbindHasRemovedTheCdevItFindsItBy() throws Exception {
        // The ticket outlives a slow machine: an expired one would end the lease while the mapper still held its fd.
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""), Duration.ofMinutes(5));
        String vf = f.address(VF_ID);
        Lease lease = f.leases.acquire(self(NOBODY), List.of(vf), null, 0).getKey();
        // The device's cdev, as the kernel adds it on the bind to vfio-pci; vfio-pci's remove deletes it (sysfs entry
        // and /dev node) before it waits, as the simulated kernel does at a blocked unbind: the mapping then names a
        // deleted file, and sysfs no longer lists the cdev.
        Files.createDirectories(f.root.resolve("sys/bus/pci/devices/" + vf + "/vfio-dev/vfio7"));
        Path cdev = f.root.resolve("dev/vfio/devices/vfio7");
        Files.createDirectories(cdev.getParent());
        Files.write(cdev, new byte[4096]);
        mapperIsNamedAndKilled(vf, lease.id(), cdev);
        assertThat(cdev).as("removed by the unbind that waits").doesNotExist();
    }

    /**
     * A process maps {@code file} and closes its fd; {@code vf}'s unbind blocks; lease {@code id} is revoked. The lease
     * goes STUCK naming the mapper as killed, the mapper dies of SIGKILL (audited), and once unblocked the lease ends.
     */
    private void mapperIsNamedAndKilled(String vf, String id, Path file) throws Exception {
        Process mapper = mapThenCloseFd(file);
        try {
            assertThat(new BufferedReader(new InputStreamReader(mapper.getInputStream())).readLine()).isEqualTo("MAPPED");
            assertThat(Files.list(Path.of("/proc/" + mapper.pid() + "/fd")).map(p -> p.toString()).toList())
                    .as("no fd of the file left").noneMatch(p -> { try { return Files.readSymbolicLink(Path.of(p)).equals(file); } catch (IOException e) { return false; } });
            Path block = blockUnbind(vf);
            try {
                Lease stuck = revokeUntilStuck(id);
                assertThat(stuck.stuckHolders()).anyMatch(h -> h.startsWith("pid " + mapper.pid() + " (python3") && h.contains("a mapping of " + file)
                        && h.endsWith("killed"));
                assertThat(mapper.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                assertThat(mapper.exitValue()).as("SIGKILL").isEqualTo(128 + LibcAbi.SIGKILL);
                assertThat(f.audit()).contains("\"pid\":\"" + mapper.pid() + "\"");
            } finally {
                Files.deleteIfExists(block);
            }
            assertThat(f.nextChange(id, Lease.State.ENDED, Duration.ofSeconds(20)).endReason()).isEqualTo("revoked by admin");
        } finally {
            mapper.destroyForcibly();
        }
    }

    /** A python3 process that maps {@code file} with libc's mmap, closes its fd, prints MAPPED and sleeps. */
    private static Process mapThenCloseFd(Path file) throws IOException {
        return new ProcessBuilder("python3", "-c", """
                import ctypes, os, sys, time
                # libc's mmap itself: Python's mmap module keeps a dup of the fd, and no fd must be left here.
                libc = ctypes.CDLL(None, use_errno=True)
                libc.mmap.restype = ctypes.c_void_p
                libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
                fd = os.open(sys.argv[1], os.O_RDONLY)
                addr = libc.mmap(None, 4096, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
                if addr is None or addr == ctypes.c_void_p(-1).value:
                    sys.exit("mmap: errno %d" % ctypes.get_errno())
                os.close(fd)
                print("MAPPED", flush=True)
                time.sleep(600)
                """, file.toString()).redirectErrorStream(true).start();
    }

    @Test
    void aForkedChildStillHoldingTheFdsAfterItsParentExitsIsFoundAndKilled() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(1, ""));
        String vf = f.address(VF_ID);
        // `run` execs sh with the lease's fds; sh leaves a background child holding them and exits.
        Process p = f.child(List.of(), NOBODY, "io.vfiobroker.cli.Main", "run", "--run-dir", f.dir.resolve("run").toString(), "--device", vf,
                "--", "/bin/sh", "-c", "sleep 600 & echo CHILD $!");
        String line = new String(p.getInputStream().readAllBytes()).lines().filter(l -> l.startsWith("CHILD ")).findFirst().orElseThrow();
        int child = Integer.parseInt(line.substring(6).strip());
        assertThat(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        Lease l = f.leases.visibleTo(self(0)).stream().findFirst().orElse(null);
        String id = l != null ? l.id() : f.changes.stream().map(Lease::id).findFirst().orElseThrow();
        Lease ended = f.nextChange(id, Lease.State.ENDED, Duration.ofSeconds(20));
        assertThat(ended.endReason()).isEqualTo("client process exited");
        assertThat(dead(child)).as("the orphaned child was killed").isTrue();
        assertThat(f.audit()).contains("lease-holder-killed").contains("\"pid\":\"" + child + "\"");
        assertThat(f.driver(vf)).isEqualTo("iavf");
    }

    @Test
    void redeemRacingReleaseHandsOverTheLeasesOwnFdsOrNone() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, "").replace("memlockPerLease: unlimited", "memlockPerLease: unlimited\n      keepBound: true"));
        String vf = f.address(VF_ID);
        Path fake = f.dir.resolve("fake").toRealPath();
        int fdsBefore = openFds();
        AtomicInteger handedOver = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        // 10 000 by default; -Dvfio-broker.race-cycles=N for a longer or shorter run.
        int cycles = Integer.getInteger("vfio-broker.race-cycles", 10_000);
        for (int i = 0; i < cycles; i++) {
            Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vf), null, 0);
            String id = g.getKey().id();
            CompletableFuture<Void> redeem = CompletableFuture.runAsync(() -> {
                try (LeaseService.Handover h = f.leases.redeem(g.getValue(), self(NOBODY))) {
                    for (var fd : h.fds()) {
                        String target = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.fd().fd())).toString();
                        String expected = fake.resolve(fd.device() != null ? "device-" + fd.device() : fd.group() >= 0 ? "group-" + fd.group() : "container").toString();
                        if (!target.equals(expected)) throw new AssertionError("cycle handed over " + target + " as " + expected);
                        byte[] buf = new byte[64];
                        int n = Posix.pread(fd.fd().fd(), buf, 0, "handed-over fd");
                        if (n <= 0) throw new AssertionError("empty read through a handed-over fd");
                    }
                    handedOver.incrementAndGet();
                } catch (LeaseException e) {
                    refused.incrementAndGet();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            f.leases.release(id, self(NOBODY));
            redeem.join();
            assertThat(f.leases.awaitEnded(id, Duration.ofSeconds(10))).isTrue();
        }
        assertThat(handedOver.get() + refused.get()).isEqualTo(cycles);
        assertThat(openFds()).as("the daemon's fd count").isLessThanOrEqualTo(fdsBefore + 2);
        System.out.println("redeem/release race: " + handedOver.get() + " handed over, " + refused.get() + " refused, of " + cycles);
    }

    @Test
    void aRestartEndsLeasesWhoseTicketWasNeverRedeemedAndKeepsACorruptStoreAside() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""));
        String vf = f.address(VF_ID);
        Path storeFile = f.dir.resolve("state/leases.json");
        f.leases.persistTo(new LeaseStore(storeFile));
        Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vf), null, 0);
        assertThat(f.driver(vf)).isEqualTo("vfio-pci");
        f.leases.close();

        f.leases = f.newLeaseService();
        List<String> report = f.leases.persistTo(new LeaseStore(storeFile));
        assertThat(report).singleElement().asString().contains(g.getKey().id()).contains("ticket was not redeemed");
        assertThat(f.leases.awaitEnded(g.getKey().id(), Duration.ofSeconds(10))).isTrue();
        assertThat(f.driver(vf)).isEqualTo("iavf");
        f.leases.close();

        Files.writeString(storeFile, "{ not json\n{\"op\":\"add\"}\n");
        f.leases = f.newLeaseService();
        report = f.leases.persistTo(new LeaseStore(storeFile));
        assertThat(report).singleElement().asString().contains("cannot read lease store").contains("moved aside");
        try (Stream<Path> s = Files.list(storeFile.getParent())) {
            Path aside = s.filter(p -> p.getFileName().toString().startsWith("leases.json.corrupt-")).findFirst().orElseThrow();
            assertThat(Files.readString(aside)).startsWith("{ not json");
        }
    }

    @Test
    void aReloadThatNoLongerGrantsALeaseTakesItBack() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""));
        String vf = f.address(VF_ID);
        Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vf), null, 0);
        f.leases.redeem(g.getValue(), self(NOBODY)).close();
        Files.writeString(f.policyFile, Files.readString(f.policyFile).replace("uid: [65534, 0]", "uid: [0]"));
        f.policy.reload();
        Lease ended = f.nextChange(g.getKey().id(), Lease.State.ENDED, Duration.ofSeconds(10));
        assertThat(ended.endReason()).startsWith("grant withdrawn by policy reload").contains("65534");
        assertThat(f.driver(vf)).isEqualTo("iavf");
    }

    @Test
    void aReloadKeepsLeasesWhenThePolicySaysSo() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, ""));
        String vf = f.address(VF_ID);
        Map.Entry<Lease, String> g = f.leases.acquire(self(NOBODY), List.of(vf), null, 0);
        Files.writeString(f.policyFile, Files.readString(f.policyFile).replace("uid: [65534, 0]", "uid: [0]")
                .replace("revokeGraceSeconds: 0", "revokeGraceSeconds: 0\n  onWithdrawnGrant: keep"));
        f.policy.reload();
        Thread.sleep(300);
        assertThat(f.leases.get(g.getKey().id()).orElseThrow().state()).isEqualTo(Lease.State.GRANTED);
    }

    @Test
    void aRootCallerInAnotherPidNamespaceIsNotJudgedAsHostRoot() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, """
                  - name: root-edu
                    action: allow
                    devices: {vendorDevice: "1234:11e8"}
                    principals: {uid: 0}
                """));
        String edu = f.address("1234:11e8");
        Process p = f.child(List.of("unshare", "--pid", "--fork", "--mount-proc"), 0, ClientMain.class.getName(),
                f.dir.resolve("run").toString(), edu);
        List<String> out = LeaseFixture.linesUntil(p, "READY");
        assertThat(out).singleElement().asString().startsWith("ERROR PERMISSION_DENIED")
                .contains("outside the daemon's pid and user namespaces");
        assertThat(f.leases.active()).isEmpty();
        assertThat(f.driver(edu)).isNotEqualTo("vfio-pci");
    }

    @Test
    void memoryStillLockedAfterAReleaseCountsAgainstThePerPrincipalCap() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, """
                  - name: root-edu
                    action: allow
                    devices: {vendorDevice: "1234:11e8"}
                    principals: {uid: 0}
                    limits: {memlockPerLease: 4MiB, memlockPerPrincipal: 6MiB}
                """));
        String edu = f.address("1234:11e8");
        Path script = f.dir.resolve("mlock.py");
        Files.writeString(script, """
                import ctypes, mmap, sys
                libc = ctypes.CDLL(None, use_errno=True)
                held = []
                print("READY", flush=True)
                for line in sys.stdin:
                    n = int(line.split()[1])
                    buf = mmap.mmap(-1, n)
                    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
                    ok = libc.mlock(ctypes.c_void_p(addr), ctypes.c_size_t(n)) == 0
                    held.append(buf)
                    print("LOCKED" if ok else "FAILED", flush=True)
                """);
        // Root without CAP_IPC_LOCK, as a client would be: RLIMIT_MEMLOCK applies to it.
        Process child = new ProcessBuilder("setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock", "python3", script.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        f.children.add(child);
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
        assertThat(out.readLine()).isEqualTo("READY");
        Caller c = new Caller((int) child.pid(), 0, 0);

        Lease first = f.leases.acquire(c, List.of(edu), null, 0).getKey();
        child.getOutputStream().write(("lock " + (3 << 20) + "\n").getBytes());
        child.getOutputStream().flush();
        assertThat(out.readLine()).isEqualTo("LOCKED");
        f.leases.release(first.id(), c);
        assertThat(f.leases.awaitEnded(first.id(), Duration.ofSeconds(10))).isTrue();

        // 3 MiB stay locked after the release: 3 + 4 more is over the 6 MiB cap, though no lease holds a limit now.
        assertThatThrownBy(() -> f.leases.acquire(c, List.of(edu), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("per-principal limit 6291456")
                .hasMessageContaining("still locked");
        child.destroyForcibly().waitFor();
        // Once that process is gone its memory is not counted any more.
        Process other = new ProcessBuilder("sleep", "60").start();
        f.children.add(other);
        Lease second = f.leases.acquire(new Caller((int) other.pid(), 0, 0), List.of(edu), null, 0).getKey();
        assertThat(second.memlockLimitBytes()).isEqualTo(4L << 20);
    }

    @Test
    void aMemlockLimitThatCannotBeRaisedBackIsReportedNotIgnored() throws Exception {
        f = new LeaseFixture(HostSpec.demo(), policy(0, """
                  - name: root-edu
                    action: allow
                    devices: {vendorDevice: "1234:11e8"}
                    principals: {uid: 0}
                    limits: {memlockPerLease: 4MiB}
                """));
        String edu = f.address("1234:11e8");
        Process client = new ProcessBuilder("sleep", "60").start();
        f.children.add(client);
        String before = memlockLine(client.pid());
        Lease l = f.leases.acquire(new Caller((int) client.pid(), 0, 0), List.of(edu), null, 0).getKey();
        assertThat(memlockLine(client.pid())).as("the lease's limit").contains(String.valueOf(4L << 20));
        f.leases.release(l.id(), new Caller((int) client.pid(), 0, 0));
        assertThat(f.leases.awaitEnded(l.id(), Duration.ofSeconds(10))).isTrue();
        // Raising a limit back needs CAP_SYS_RESOURCE: restored where the daemon has it, reported where it has not.
        if (!memlockLine(client.pid()).equals(before)) {
            assertThat(f.audit()).contains("memlock-restore-failed").contains("\"pid\":\"" + client.pid() + "\"");
        } else {
            assertThat(f.audit()).doesNotContain("memlock-restore-failed");
        }
    }

    private static String memlockLine(long pid) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/limits")).stream().filter(x -> x.startsWith("Max locked memory")).findFirst()
                .orElseThrow();
    }

    @Test
    void aUidCannotHoardUnredeemedTickets() throws Exception {
        f = new LeaseFixture(HostSpec.sriovScale(2, 16), policy(0, ""), Duration.ofMinutes(5));
        List<String> vfs = f.scanner.scan().devices().stream().filter(d -> d.vendorDevice().equals(VF_ID))
                .map(d -> d.address().toString()).sorted().toList();
        assertThat(vfs).hasSizeGreaterThan(17);
        for (int i = 0; i < 16; i++) f.leases.acquire(self(NOBODY), List.of(vfs.get(i)), null, 0);
        assertThatThrownBy(() -> f.leases.acquire(self(NOBODY), List.of(vfs.get(16)), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("uid 65534 has 16 leases whose tickets are not yet redeemed");
        assertThat(f.driver(vfs.get(16))).isEqualTo("iavf");
        // Root is not held to it.
        f.leases.acquire(self(0), List.of(vfs.get(16)), null, 0);
    }

    /** Gone, or a zombie nobody reaps (an orphan's new parent here may not). */
    private static boolean dead(long pid) throws IOException {
        Path stat = Path.of("/proc/" + pid + "/stat");
        if (!Files.exists(stat)) return true;
        String s = Files.readString(stat);
        char state = s.charAt(s.lastIndexOf(')') + 2);
        return state == 'Z' || state == 'X';
    }

    private static int openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }
}
