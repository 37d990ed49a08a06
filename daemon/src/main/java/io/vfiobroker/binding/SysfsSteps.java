package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/** Carries out sysfs steps one write at a time; a failed write names the step, the file and the value. */
final class SysfsSteps {

    private static final Logger log = LoggerFactory.getLogger(SysfsSteps.class);

    private final SysfsHost host;
    private final InventoryScanner scanner;

    SysfsSteps(SysfsHost host, InventoryScanner scanner) {
        this.host = host;
        this.scanner = scanner;
    }

    /** Puts a device back on its original driver (and override), binding it directly when drivers_probe finds none. */
    void restore(Journal.Owned o) throws StepFailure {
        Device now = scanner.device(o.device()).orElse(null);
        if (now == null) return; // hot-removed: nothing left to restore
        StepFailure probeFailure = null;
        for (SysfsStep s : BindingPlanner.restoreSteps(now, o)) {
            try {
                write(s);
            } catch (StepFailure f) {
                if (!s.path().equals("sys/bus/pci/drivers_probe")) throw f;
                probeFailure = f; // the direct bind below is the second way back
            }
        }
        String driver = host.linkName("sys/bus/pci/devices/" + o.device() + "/driver").orElse(null);
        if (o.originalDriver() != null && driver == null) {
            // drivers_probe failed or found no match (module unloaded, id table changed): ask the original driver directly.
            try {
                write(new SysfsStep(o.device(), "bind to " + o.originalDriver(), "sys/bus/pci/drivers/" + o.originalDriver() + "/bind",
                        o.device().toString()));
            } catch (StepFailure f) {
                throw new StepFailure(f.getMessage() + (probeFailure == null ? "" : "; before that " + probeFailure.getMessage()));
            }
            driver = host.linkName("sys/bus/pci/devices/" + o.device() + "/driver").orElse(null);
        }
        if (o.originalDriver() != null && !o.originalDriver().equals(driver)) {
            throw new StepFailure(o.device() + " came back on " + (driver == null ? "no driver" : driver) + ", not " + o.originalDriver());
        }
    }

    void write(SysfsStep s) throws StepFailure {
        try {
            host.write(s.path(), s.value());
            log.debug("event=sysfs-write path=/{} value={}", s.path(), s.value().strip());
        } catch (IOException | RuntimeException e) {
            throw new StepFailure(s.action() + " (write " + s.value().strip() + " to /" + s.path() + "): " + e.getMessage());
        }
    }

    static final class StepFailure extends Exception {
        StepFailure(String message) {
            super(message, null, false, false);
        }
    }
}
