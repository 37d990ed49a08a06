package io.vfiobroker.client;

import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.nio.file.Path;

/**
 * The one way the project opens a gRPC channel on a Unix socket. grpc-java would send the socket path as
 * {@code :authority}, which HTTP/2 stacks that validate it (nghttp2, hyperium h2/tonic) reject with
 * PROTOCOL_ERROR; kubernetes' own clients send {@value #AUTHORITY} for that reason (kubernetes#112597).
 */
public final class UnixChannels {

    public static final String AUTHORITY = "localhost";

    private UnixChannels() {
    }

    /** A plaintext epoll builder for {@code socket}; the caller adds its event loop group and builds. */
    public static NettyChannelBuilder builder(Path socket) {
        return NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .overrideAuthority(AUTHORITY)
                .usePlaintext();
    }
}
