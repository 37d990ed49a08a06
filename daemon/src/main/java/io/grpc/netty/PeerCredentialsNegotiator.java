package io.grpc.netty;

import io.grpc.Attributes;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.netty.util.AsciiString;

import java.io.IOException;

/**
 * Plaintext gRPC over a Unix socket that records the peer's SO_PEERCRED as a transport attribute.
 * grpc-java has no public hook for this (grpc-java#2646), so it lives in grpc-netty's package and uses the
 * Internal* negotiator API; a call reads the result with {@link #PEER_CREDENTIALS}.
 */
public final class PeerCredentialsNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {

    /** The connecting process's pid, uid and gid as the kernel reports them; absent on non-Unix transports. */
    /** The connecting process's start time (see ProcessIdentity), pinned by SO_PEERPIDFD where the kernel has it. */
    public static final Attributes.Key<Long> PEER_START_TIME = Attributes.Key.create("vfio-broker.peer-start-time");
    public static final Attributes.Key<PeerCredentials> PEER_CREDENTIALS = Attributes.Key.create("vfio-broker.peer-credentials");
    /** The connecting process's supplementary groups (SO_PEERGROUPS); absent where the kernel gives none. */
    public static final Attributes.Key<java.util.List<Integer>> PEER_GROUPS = Attributes.Key.create("vfio-broker.peer-groups");

    private final InternalProtocolNegotiator.ProtocolNegotiator plaintext = InternalProtocolNegotiators.serverPlaintext();

    public static io.grpc.ServerCredentials serverCredentials() {
        return InternalNettyServerCredentials.create(new PeerCredentialsNegotiator());
    }

    @Override
    public AsciiString scheme() {
        return plaintext.scheme();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        ChannelHandler next = plaintext.newHandler(grpcHandler);
        return new InternalProtocolNegotiators.ProtocolNegotiationHandler(next, "peer-credentials", grpcHandler.getNegotiationLogger()) {
            @Override
            protected void protocolNegotiationEventTriggered(ChannelHandlerContext ctx) {
                if (ctx.channel() instanceof EpollDomainSocketChannel ch) {
                    try {
                        PeerCredentials cred = ch.peerCredentials();
                        ProtocolNegotiationEvent pne = getProtocolNegotiationEvent();
                        Attributes.Builder attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder().set(PEER_CREDENTIALS, cred);
                        try {
                            // Once per connection, like SO_PEERCRED: no /proc read per call to learn the caller's groups.
                            attrs.set(PEER_GROUPS, java.util.Arrays.stream(io.vfiobroker.nativeshim.UnixSockets.peerGroups(ch.fd().intValue())).boxed().toList());
                        } catch (io.vfiobroker.nativeshim.NativeException e) {
                            // a kernel before 4.13: callers fall back to /proc/<pid>/status
                        }
                        attrs.set(PEER_START_TIME, io.vfiobroker.lease.ProcessIdentity.atConnect(ch.fd().intValue(), cred.pid()));
                        replaceProtocolNegotiationEvent(InternalProtocolNegotiationEvent.withAttributes(pne, attrs.build()));
                    } catch (IOException e) {
                        ctx.close(); // no credentials, no service
                        return;
                    }
                }
                fireProtocolNegotiationEvent(ctx);
            }
        };
    }

    @Override
    public void close() {
        plaintext.close();
    }
}
