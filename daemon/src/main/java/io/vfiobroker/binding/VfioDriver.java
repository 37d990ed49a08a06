package io.vfiobroker.binding;

import io.vfiobroker.host.SysfsHost;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Makes sure the kernel's vfio-pci driver is there, loading the module on a real host when it is only on disk. */
public final class VfioDriver {

    private final SysfsHost host;

    public VfioDriver(SysfsHost host) {
        this.host = host;
    }

    public boolean loaded() {
        return host.exists("sys/bus/pci/drivers/vfio-pci");
    }

    /** What {@link #ensureLoaded()} would do, for the dry run. */
    public String describe() {
        if (loaded()) return "vfio-pci is loaded";
        if (!host.realHost()) return "vfio-pci is not loaded in host tree " + host + " (a tree is never modprobed)";
        return "vfio-pci is not loaded: would run 'modprobe vfio-pci'";
    }

    public void ensureLoaded() {
        if (loaded()) return;
        if (!host.realHost()) {
            throw new BindingException("vfio-pci is not loaded in host tree " + host
                    + ": the tree has no sys/bus/pci/drivers/vfio-pci", true);
        }
        String release = host.read("proc/sys/kernel/osrelease").orElse("?");
        Path modules = Path.of("/lib/modules", release);
        try {
            Process p = new ProcessBuilder("modprobe", "vfio-pci").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            if (!p.waitFor(30, TimeUnit.SECONDS)) p.destroyForcibly();
            if (loaded()) return;
            throw new BindingException("the kernel has no usable VFIO: 'modprobe vfio-pci' failed (" + out + ")"
                    + (Files.isDirectory(modules) ? "" : "; " + modules + " does not exist")
                    + "; kernel " + release + " needs CONFIG_VFIO_PCI", false);
        } catch (IOException e) {
            throw new BindingException("the kernel has no vfio-pci driver loaded and modprobe could not run: " + e.getMessage(), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BindingException("interrupted while loading vfio-pci", false);
        }
    }
}
