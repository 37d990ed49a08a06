package io.vfiobroker.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.netty.PeerCredentialsNegotiator;
import io.netty.channel.unix.PeerCredentials;
import io.vfiobroker.lease.Caller;

/** Puts the SO_PEERCRED identity of the connection into the call's context; refuses calls without one. */
public final class CallerInterceptor implements ServerInterceptor {

    public static final Context.Key<Caller> CALLER = Context.key("vfio-broker.caller");

    public static Caller caller() {
        Caller c = CALLER.get();
        if (c == null) throw Status.UNAUTHENTICATED.withDescription("no peer credentials on this connection").asRuntimeException();
        return c;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        PeerCredentials cred = call.getAttributes().get(PeerCredentialsNegotiator.PEER_CREDENTIALS);
        if (cred == null) {
            call.close(Status.UNAUTHENTICATED.withDescription("vfio-broker accepts local clients over its Unix socket only"), new Metadata());
            return new ServerCall.Listener<>() {
            };
        }
        Long start = call.getAttributes().get(PeerCredentialsNegotiator.PEER_START_TIME);
        Caller caller = new Caller(cred.pid(), cred.uid(), cred.gids().length > 0 ? cred.gids()[0] : -1,
                call.getAttributes().get(PeerCredentialsNegotiator.PEER_GROUPS), start == null ? -1 : start);
        return Contexts.interceptCall(Context.current().withValue(CALLER, caller), call, headers, next);
    }
}
