package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Real syscalls inside this process: fd passing, eventfd, uevent, memory, and the error messages. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InProcessSyscallsTest {
    @TempDir
    Path dir;

    /** A one-int struct for FIONREAD: the kernel writes it, so the binding must read the struct back after the call. */
    @com.sun.jna.Structure.FieldOrder({"value"})
    public static final class IntStruct extends com.sun.jna.Structure {
        public int value;
    }

    @Test
    void aStructurePassedToAnIoctlIsWrittenBeforeAndReadBackAfter() {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.STREAM);
        try (OwnedFd a = pair[0]; OwnedFd b = pair[1]) {
            UnixSockets.sendFds(a.fd(), bytes("12345"));
            IntStruct pending = new IntStruct();
            pending.value = -1;
            assertThat(Shim.vb_ioctl_ptr(b.fd(), 0x541B /* FIONREAD */, pending)).isZero();
            assertThat(pending.value).isEqualTo(5);
        }
    }

    @Test
    void epollReportsTheTokenOfAReadyFdAndForgetsARemovedOne() {
        try (Epoll ep = Epoll.create(); EventFd a = EventFd.create(0, LibcAbi.EFD_NONBLOCK); EventFd b = EventFd.create(0, LibcAbi.EFD_NONBLOCK)) {
            ep.add(a.fd(), LibcAbi.EPOLLIN, 41);
            ep.add(b.fd(), LibcAbi.EPOLLIN, 42);
            assertThat(ep.await(8, 0).count()).isZero();
            b.signal(1);
            Epoll.Ready r = ep.await(8, 1000);
            assertThat(r.count()).isEqualTo(1);
            assertThat(r.tokens()[0]).isEqualTo(42);
            assertThat(r.events()[0] & LibcAbi.EPOLLIN).isEqualTo(LibcAbi.EPOLLIN);
            ep.remove(b.fd());
            assertThat(ep.await(8, 0).count()).isZero(); // still readable, but no longer in the set
            assertThatThrownBy(() -> ep.remove(b.fd())).isInstanceOf(NativeException.class).hasMessageContaining("epoll_ctl DEL").hasMessageContaining("ENOENT");
            assertThatThrownBy(() -> ep.await(65, 0)).hasMessageContaining("EINVAL");
        }
    }

    @Test
    void lexistsSeesDanglingLinksAndNoExceptionForAMiss() throws IOException {
        Path file = Files.writeString(dir.resolve("file"), "x");
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("nowhere"));
        assertThat(Posix.lexists(file)).isTrue();
        assertThat(Posix.lexists(dangling)).isTrue();
        assertThat(Posix.lexists(dir.resolve("missing"))).isFalse();
        assertThat(Posix.lexists(file.resolve("under-a-file"))).isFalse(); // ENOTDIR is a miss too
    }

    @Test
    void severalFdsAndAPayloadTravelInOneMessage() throws IOException {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.SEQPACKET);
        List<OwnedFd> files = new ArrayList<>();
        try (OwnedFd a = pair[0]; OwnedFd b = pair[1]) {
            for (int i = 0; i < 3; i++) {
                Path f = Files.writeString(dir.resolve("f" + i), "file-" + i);
                files.add(Posix.open(f, LibcAbi.O_RDONLY));
            }
            UnixSockets.sendFds(a.fd(), bytes("{\"lease\":1}"), files.stream().mapToInt(OwnedFd::fd).toArray());
            try (ReceivedMessage m = UnixSockets.recvFds(b.fd(), 64, 8)) {
                assertThat(new String(m.payload(), StandardCharsets.UTF_8)).isEqualTo("{\"lease\":1}");
                assertThat(m.fds()).hasSize(3);
                for (int i = 0; i < 3; i++) {
                    assertThat(m.fds().get(i).fd()).isNotEqualTo(files.get(i).fd()); // new numbers, same files
                    assertThat(new String(Posix.read(m.fds().get(i).fd(), 64), StandardCharsets.UTF_8))
                            .isEqualTo("file-" + i);
                }
            }
        } finally {
            files.forEach(OwnedFd::close);
        }
    }

    @Test
    void aMessageWithMoreFdsThanRoomFailsAndLeaksNothing() throws IOException {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.SEQPACKET);
        try (OwnedFd a = pair[0]; OwnedFd b = pair[1]; OwnedFd f = Posix.open(Path.of("/dev/null"), LibcAbi.O_RDONLY)) {
            long before = openFds();
            UnixSockets.sendFds(a.fd(), bytes("x"), f.fd(), f.fd(), f.fd());
            assertThatThrownBy(() -> UnixSockets.recvFds(b.fd(), 16, 1))
                    .isInstanceOf(NativeException.class)
                    .hasMessage("recvmsg: EMSGSIZE (fd " + b.fd() + ")");
            UnixSockets.sendFds(a.fd(), bytes("y"), f.fd());
            assertThatThrownBy(() -> UnixSockets.recvFds(b.fd(), 16, 0)).hasMessageStartingWith("recvmsg: EMSGSIZE");
            assertThat(openFds()).isEqualTo(before);
        }
    }

    @Test
    void thousandsOfHandoversLeaveTheFdCountUnchanged() throws IOException {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.SEQPACKET);
        try (OwnedFd a = pair[0]; OwnedFd b = pair[1]; OwnedFd f = Posix.open(Path.of("/dev/null"), LibcAbi.O_RDONLY)) {
            long before = openFds();
            for (int i = 0; i < 5000; i++) {
                UnixSockets.sendFds(a.fd(), bytes("t"), f.fd(), f.fd());
                UnixSockets.recvFds(b.fd(), 16, 4).close();
            }
            assertThat(openFds()).isEqualTo(before);
        }
    }

    @Test
    void aClosedPeerReadsAsEndOfStream() {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.STREAM);
        try (OwnedFd b = pair[1]) {
            pair[0].close();
            assertThat(UnixSockets.recvFds(b.fd(), 16, 1).endOfStream()).isTrue();
            assertThatThrownBy(() -> UnixSockets.sendFds(b.fd(), bytes("x")))
                    .hasMessageStartingWith("sendmsg: EPIPE"); // and no SIGPIPE killed the JVM
        }
    }

    @Test
    void aListeningSocketByPathAcceptsAndReportsThePeer() {
        Path path = dir.resolve("api.sock");
        try (OwnedFd l = UnixSockets.listen(path, SocketType.SEQPACKET, 1);
                OwnedFd c = UnixSockets.connect(path, SocketType.SEQPACKET);
                OwnedFd s = UnixSockets.accept(l.fd())) {
            assertThat(UnixSockets.peerCred(s.fd()))
                    .isEqualTo(new PeerCredentials((int) ProcessHandle.current().pid(), 0, 0));
            UnixSockets.sendFds(c.fd(), bytes("ticket"));
            assertThat(UnixSockets.recvFds(s.fd(), 64, 0).payload()).isEqualTo(bytes("ticket"));
        }
    }

    @Test
    void connectingToAMissingSocketNamesThePath() {
        Path path = dir.resolve("absent.sock");
        assertThatThrownBy(() -> UnixSockets.connect(path, SocketType.STREAM))
                .hasMessage("connect " + path + ": ENOENT");
    }

    @Test
    void eventfdCountsWritesAndResetsOnRead() {
        try (EventFd e = EventFd.create(0, LibcAbi.EFD_NONBLOCK)) {
            assertThat(e.await(Duration.ZERO)).isFalse();
            e.signal(3);
            e.signal(4);
            assertThat(e.await(Duration.ofSeconds(1))).isTrue();
            assertThat(e.read()).isEqualTo(7);
            assertThatThrownBy(e::read).isInstanceOfSatisfying(NativeException.class,
                    ex -> assertThat(ex.errno()).isEqualTo(Errno.EAGAIN));
        }
    }

    @Test
    void ueventSocketOpensAndTimesOutQuietly() {
        try (UeventSocket s = UeventSocket.open()) {
            long t0 = System.nanoTime();
            Optional<Uevent> e = s.receive(Duration.ofMillis(100));
            // Nothing is plugged here, but a real event would be fine too: it must then be parsed.
            e.ifPresent(ev -> assertThat(ev.action()).isNotEmpty());
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void ueventDatagramsParseIntoProperties() {
        byte[] msg = bytes("bind@/devices/pci0000:00/0000:00:03.0\0ACTION=bind\0DEVPATH=/devices/pci0000:00/0000:00:03.0"
                + "\0SUBSYSTEM=pci\0DRIVER=vfio-pci\0PCI_SLOT_NAME=0000:00:03.0\0SEQNUM=2231\0");
        Uevent e = Uevent.parse(msg, msg.length);
        assertThat(e.action()).isEqualTo("bind");
        assertThat(e.devpath()).isEqualTo("/devices/pci0000:00/0000:00:03.0");
        assertThat(e.subsystem()).isEqualTo("pci");
        assertThat(e.properties()).containsEntry("DRIVER", "vfio-pci").containsEntry("SEQNUM", "2231").hasSize(6);
    }

    @Test
    void dmaBuffersArePageAlignedWritableAndLockable() {
        try (DmaBuffer b = DmaBuffer.allocate(1 << 16)) {
            assertThat(b.address() % 4096).isZero();
            b.pointer().setInt(4096, 0x010000ed);
            assertThat(b.pointer().getInt(4096)).isEqualTo(0x010000ed);
            b.lock(); // root has CAP_IPC_LOCK
            b.unlock();
        }
    }

    @Test
    void aPidfdForAProcessThatDoesNotExistSaysEsrch() {
        assertThatThrownBy(() -> Pidfd.open(0x3fffffff)).hasMessage("pidfd_open: ESRCH (pid 1073741823)");
    }

    @Test
    void ownMemlockLimitReadsBack() {
        Rlimits.Rlimit l = Rlimits.getMemlock(0);
        assertThat(l.soft()).isNotZero();
        Rlimits.setMemlock(0, l);
        assertThat(Rlimits.getMemlock(0)).isEqualTo(l);
    }

    /** FIONREAD writes an int through the pointer: proves a struct argument is read back after the ioctl. */
    @com.sun.jna.Structure.FieldOrder("value")
    public static final class IntBox extends AbiStruct {
        public int value = -1;
    }

    @Test
    void structArgumentsAreWrittenBackByTheKernel() {
        OwnedFd[] pair = UnixSockets.socketPair(SocketType.STREAM);
        try (OwnedFd a = pair[0]; OwnedFd b = pair[1]) {
            UnixSockets.sendFds(a.fd(), bytes("12345"));
            IntBox box = new IntBox();
            assertThat(Shim.vb_ioctl_ptr(b.fd(), 0x541B /* FIONREAD */, box)).isZero();
            assertThat(box.value).isEqualTo(5);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
