package io.vfiobroker.hotplug;

import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nativeshim.NativeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

/** Starts the netlink listener when the daemon serves the real host, and says why when it does not. */
public final class Hotplug implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Hotplug.class);
    private final NetlinkUeventListener listener;

    public Hotplug(SysfsHost host, UeventHandler handler, boolean enabled) {
        NetlinkUeventListener l = null;
        if (!enabled) {
            log.info("event=hotplug-off reason=\"vfio-broker.hotplug.enabled=false\"");
        } else if (!host.realHost()) {
            log.info("event=hotplug-off reason=\"host root {} is a generated tree: no kernel sends its uevents\"", host);
        } else {
            try {
                l = new NetlinkUeventListener(handler::handle);
            } catch (NativeException e) {
                // Not fatal: the inventory is still right at start and after the daemon's own binds.
                log.warn("event=hotplug-off reason=\"{}\"", e.getMessage());
            }
        }
        this.listener = l;
    }

    public boolean listening() {
        return listener != null;
    }

    @Override
    public void close() {
        if (listener != null) listener.close();
    }
}
