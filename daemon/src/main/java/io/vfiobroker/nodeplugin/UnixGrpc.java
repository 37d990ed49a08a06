package io.vfiobroker.nodeplugin;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import io.vfiobroker.client.UnixChannels;

/** gRPC over Unix domain sockets (the kubelet speaks nothing else to device plugins), on one shared epoll loop. */
public final class UnixGrpc implements AutoCloseable {

    private final EventLoopGroup loop;

    public UnixGrpc(int threads) {
        this.loop = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
    }

    public Server serve(Path socket, BindableService... services) throws IOException {
        NettyServerBuilder b = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(loop)
                .workerEventLoopGroup(loop);
        for (BindableService s : services) b.addService(s);
        return b.build().start();
    }

    /** Stops a server, waiting up to 5 s: Netty unlinks the socket path when the listener closes, before a successor binds. */
    public static void stop(Server s) {
        s.shutdownNow();
        try {
            s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public ManagedChannel connect(Path socket) {
        return UnixChannels.builder(socket).eventLoopGroup(loop).build();
    }

    @Override
    public void close() {
        loop.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
