package io.vfiobroker.web;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The relay's socket file: what it replaces, and what it refuses to. */
class UnixHttpRelayTest {

    @TempDir
    Path dir;

    @Test
    void aFileThatIsNotASocketIsNeverReplaced() throws Exception {
        Path path = Files.writeString(dir.resolve("http.sock"), "not ours");
        UnixHttpRelay relay = new UnixHttpRelay(path, new InetSocketAddress("127.0.0.1", 9));
        assertThatThrownBy(() -> relay.start(null)).isInstanceOf(IOException.class).hasMessageContaining(path.toString())
                .hasMessageContaining("not a socket");
        assertThat(Files.readString(path)).isEqualTo("not ours");
    }

    @Test
    void aStaleSocketIsReplacedAndRemovedOnClose() throws Exception {
        Path path = dir.resolve("http.sock");
        UnixHttpRelay first = new UnixHttpRelay(path, new InetSocketAddress("127.0.0.1", 9));
        first.start(null);
        // As a killed daemon leaves it: the file stays, nobody listens.
        UnixHttpRelay second = new UnixHttpRelay(path, new InetSocketAddress("127.0.0.1", 9));
        second.start(null);
        assertThat(Files.exists(path)).isTrue();
        second.close();
        assertThat(Files.exists(path)).isFalse();
        assertThat(first.caller(1)).isEmpty();
        first.close();
    }
}
