package io.vfiobroker.web;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.PeerCredentials;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.UnixSockets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The HTTP API on a Unix socket ({@code http.sock} in the run directory). Each connection is relayed to the loopback
 * listener from a port of the daemon's own; while it lasts, that port stands for the connecting process as SO_PEERCRED
 * named it, and {@link HttpIdentity} takes the caller from here instead of asking inet_diag (which would see the daemon).
 */
public final class UnixHttpRelay implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(UnixHttpRelay.class);

    private final Path socket;
    private final InetSocketAddress target;
    private final Map<Integer, Caller> callers = new ConcurrentHashMap<>();
    private EventLoopGroup group;
    private Channel server;

    public UnixHttpRelay(Path socket, InetSocketAddress target) {
        this.socket = socket;
        this.target = target;
    }

    /** The caller behind a relayed connection, by the relay's local port on loopback; empty for any other connection. */
    public Optional<Caller> caller(int relayPort) {
        return Optional.ofNullable(callers.get(relayPort));
    }

    public void start(String socketGroup) throws IOException, InterruptedException {
        Files.createDirectories(socket.getParent());
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            // Only a stale socket of ours is replaced; anything else at that path is not the daemon's to delete.
            if (!Files.readAttributes(socket, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther()) {
                throw new IOException(socket + " exists and is not a socket; not replacing it");
            }
            Files.delete(socket);
        }
        group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(EpollServerDomainSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<EpollDomainSocketChannel>() {
                    @Override
                    protected void initChannel(EpollDomainSocketChannel ch) {
                        ch.pipeline().addLast(new Inbound());
                    }
                })
                .bind(new DomainSocketAddress(socket.toString())).sync().channel();
        io.vfiobroker.authz.SocketAccess.apply(socket, socketGroup);
        log.info("event=http-unix-listening path={} relay={}", socket, target);
    }

    @Override
    public void close() {
        if (server != null) server.close().syncUninterruptibly();
        if (group != null) group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        try {
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            log.warn("event=http-unix-cleanup-failed path={} error=\"{}\"", socket, e.getMessage());
        }
    }

    private static void closeAfterFlush(Channel ch) {
        if (ch != null && ch.isActive()) ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    /** Bytes from one side to its peer, reading the next only once the last was written (no unbounded buffering). */
    private static class Pipe extends ChannelInboundHandlerAdapter {
        Channel peer;

        Pipe(Channel peer) {
            this.peer = peer;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            peer.writeAndFlush(msg).addListener(f -> {
                if (f.isSuccess()) ctx.channel().read();
                else ctx.channel().close();
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closeAfterFlush(peer);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
            closeAfterFlush(peer);
        }
    }

    /** One client connection: credentials first, then a loopback connection registered under its port, then bytes both ways. */
    private final class Inbound extends Pipe {
        Inbound() {
            super(null);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            EpollDomainSocketChannel in = (EpollDomainSocketChannel) ctx.channel();
            Caller caller;
            try {
                PeerCredentials cred = in.peerCredentials();
                List<Integer> groups;
                try {
                    groups = Arrays.stream(UnixSockets.peerGroups(in.fd().intValue())).boxed().toList();
                } catch (NativeException e) {
                    groups = null;   // a kernel before 4.13: Authorization reads /proc/PID/status
                }
                caller = new Caller(cred.pid(), cred.uid(), cred.gids().length > 0 ? cred.gids()[0] : -1, groups);
            } catch (IOException e) {
                in.close();   // no credentials, no service
                return;
            }
            var connect = new Bootstrap().group(in.eventLoop()).channel(EpollSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new Pipe(in))
                    .connect(target);
            Channel out = connect.channel();
            peer = out;
            connect.addListener(done -> {
                if (!done.isSuccess()) {
                    in.close();
                    return;
                }
                int port = ((InetSocketAddress) out.localAddress()).getPort();
                callers.put(port, caller);   // before the first byte reaches the listener
                out.closeFuture().addListener(f -> callers.remove(port, caller));
                in.read();
                out.read();
            });
        }
    }
}
