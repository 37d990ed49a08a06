package io.vfiobroker.web;

import io.vfiobroker.config.BrokerConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;

/**
 * The HTTP API on {@code http.sock} in the run directory, beside api.sock and with the same access
 * ({@code vfio-broker.socket-group}). {@code vfio-broker.web.unix-socket}: another path, or {@code off}. Only a
 * plain loopback listener is relayed; a TLS listener is for remote callers with certificates or tokens.
 */
@Configuration(proxyBeanMethods = false)
public class UnixHttpConfiguration {

    private static final Logger log = LoggerFactory.getLogger(UnixHttpConfiguration.class);

    @Bean
    Starter unixHttpRelayStarter(HttpIdentity identity, io.vfiobroker.host.SysfsHost host, HttpListenerProperties listener,
                                 @Value("${vfio-broker.web.unix-socket:}") String configured,
                                 @Value("${vfio-broker.run-dir:}") String runDir,
                                 @Value("${vfio-broker.socket-group:}") String socketGroup) {
        Path socket = configured.isBlank() ? BrokerConfiguration.runDir(runDir, host).resolve("http.sock")
                : "off".equals(configured.strip()) ? null : Path.of(configured.strip());
        if (socket != null && !listener.plainLoopback()) {
            log.info("event=http-unix-off reason=\"the HTTP listener is not plain loopback\"");
            socket = null;
        }
        return new Starter(identity, socket, listener.address().strip(), socketGroup);
    }

    /** Starts the relay once the listener's port is known; closes it with the context. */
    public static final class Starter implements ApplicationListener<WebServerInitializedEvent>, DisposableBean {
        private final HttpIdentity identity;
        private final Path socket;
        private final String address;
        private final String socketGroup;
        private UnixHttpRelay relay;

        Starter(HttpIdentity identity, Path socket, String address, String socketGroup) {
            this.identity = identity;
            this.socket = socket;
            this.address = address;
            this.socketGroup = socketGroup;
        }

        /** The running relay, or null (off, or the listener not up yet). */
        public synchronized UnixHttpRelay relay() {
            return relay;
        }

        @Override
        public synchronized void onApplicationEvent(WebServerInitializedEvent event) {
            if (socket == null || relay != null || event.getApplicationContext().getServerNamespace() != null) return;
            UnixHttpRelay r = new UnixHttpRelay(socket, new InetSocketAddress(address, event.getWebServer().getPort()));
            try {
                r.start(socketGroup);
            } catch (IOException e) {
                r.close();
                throw new IllegalStateException("cannot listen for HTTP on " + socket + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                r.close();
                throw new IllegalStateException("interrupted while opening " + socket, e);
            }
            relay = r;
            identity.relay(r);
        }

        @Override
        public synchronized void destroy() {
            if (relay != null) relay.close();
        }
    }
}
