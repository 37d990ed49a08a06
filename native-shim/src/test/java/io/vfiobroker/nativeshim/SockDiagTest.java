package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** inet_diag finds the owner of the far end of a real loopback TCP connection made by another uid's process. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SockDiagTest {

    private void ownerOfAConnectionFromNobody(String host) throws Exception {
        InetAddress addr = InetAddress.getByName(host);
        try (ServerSocket server = new ServerSocket(0, 4, addr); Child child = Child.start(Child.As.NOBODY)) {
            String reply = child.ask("tcp-hold " + host + " " + server.getLocalPort());
            assertThat(reply).startsWith("connected ");
            try (Socket conn = server.accept()) {
                InetSocketAddress serverSide = (InetSocketAddress) conn.getLocalSocketAddress();
                InetSocketAddress clientSide = (InetSocketAddress) conn.getRemoteSocketAddress();
                assertThat(clientSide.getPort()).isEqualTo(Integer.parseInt(reply.substring(10)));
                // The client's socket: its own address is our remote one.
                SockDiag.Owner o = SockDiag.tcp(clientSide, serverSide);
                assertThat(o.uid()).isEqualTo(Child.NOBODY);
                assertThat(o.inode()).isPositive();
                assertThat(o.held()).isTrue();
                // Our own end of the same connection is root's.
                SockDiag.Owner mine = SockDiag.tcp(serverSide, clientSide);
                assertThat(mine.uid()).isZero();
                assertThat(mine.inode()).isNotEqualTo(o.inode());
                // A port nobody holds: no socket, never a guess (the listener on that address must not answer).
                InetSocketAddress nobody = new InetSocketAddress(addr, clientSide.getPort() == 1 ? 2 : 1);
                assertThatThrownBy(() -> SockDiag.tcp(nobody, serverSide)).isInstanceOf(NativeException.class)
                        .satisfies(e -> assertThat(((NativeException) e).errnoName()).isEqualTo("ENOENT"));
                // The kernel's exact lookup falls back to the listener at addr:port; that is not the asked-for 4-tuple.
                InetSocketAddress listener = new InetSocketAddress(addr, server.getLocalPort());
                assertThatThrownBy(() -> SockDiag.tcp(listener, nobody)).isInstanceOf(NativeException.class)
                        .satisfies(e -> assertThat(((NativeException) e).errnoName()).isEqualTo("ENOENT"));
            }
        }
    }

    @Test
    void ipv4LoopbackNamesTheOtherUid() throws Exception {
        ownerOfAConnectionFromNobody("127.0.0.1");
    }

    @Test
    void ipv6LoopbackNamesTheOtherUid() throws Exception {
        ownerOfAConnectionFromNobody("::1");
    }
}
