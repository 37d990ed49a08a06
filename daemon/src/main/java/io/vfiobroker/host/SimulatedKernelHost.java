package io.vfiobroker.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A generated host tree whose sysfs reacts to writes as the kernel's does: driver_override is stored,
 * {@code unbind}, {@code bind} and {@code drivers_probe} move the driver links, uevent's DRIVER= follows, and
 * /dev/vfio/N appears while a group member is bound to vfio-pci. Tests can make a step fail for one device by
 * writing the step's name ("unbind", "bind", "drivers_probe", "driver_override") to {@code .sim/fail/<address>}, and
 * make an unbind of one device block, as vfio-pci's remove does while a device fd is open, for as long as
 * {@code .sim/block/<address>} exists (the write waits outside the simulated kernel's lock, so other devices move on;
 * a vfio-pci device's cdevs go first, as the kernel's remove deletes them before it waits).
 * Only for generated trees (demo and tests) — never selected for a real root.
 */
public class SimulatedKernelHost extends LinuxSysfsHost {

    private static final String DEVICES = "sys/bus/pci/devices/";
    private static final String DRIVERS = "sys/bus/pci/drivers/";

    public SimulatedKernelHost(Path root) {
        super(root);
        if (realHost()) throw new HostPathException("the simulated kernel never runs on the real root /");
    }

    @Override
    public void write(String path, String value) throws IOException {
        String[] p = path.split("/");
        boolean unbind = (path.startsWith(DEVICES) && p.length == 7 && p[5].equals("driver") && p[6].equals("unbind"))
                || (path.startsWith(DRIVERS) && p.length == 6 && p[5].equals("unbind"));
        if (unbind) awaitUnblocked(value.strip()); // both unbind files take the device's address
        synchronized (this) {
            change(path, value);
        }
    }

    private void awaitUnblocked(String address) throws IOException {
        if (!address.matches("[0-9a-f:.]+")) return; // refused as no such device by the write itself
        if (exists(".sim/block/" + address)) removeCdevs(address);
        while (exists(".sim/block/" + address)) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while " + address + "'s unbind was blocked");
            }
        }
    }

    /**
     * vfio-pci's remove deletes a device's cdev (its sysfs vfio-dev/ entry and /dev/vfio/devices node) before it waits
     * for the device's last user: an unbind that waits has already taken them away.
     */
    private synchronized void removeCdevs(String address) throws IOException {
        if (!"vfio-pci".equals(currentDriver(address).orElse(null))) return;
        for (String cdev : list(DEVICES + address + "/vfio-dev")) {
            if (!cdev.matches("vfio[0-9]+")) continue;
            Files.deleteIfExists(resolve("dev/vfio/devices/" + cdev));
            Files.deleteIfExists(resolve(DEVICES + address + "/vfio-dev/" + cdev));
        }
    }

    private void change(String path, String value) throws IOException {
        String v = value.strip();
        String[] p = path.split("/");
        if (path.equals("sys/bus/pci/drivers_probe")) {
            failIfInjected(v, "drivers_probe");
            probe(v);
            return;
        }
        if (path.startsWith(DEVICES) && p.length == 6 && p[5].equals("driver_override")) {
            failIfInjected(p[4], "driver_override");
            super.write(path, v.isEmpty() ? "(null)\n" : v + "\n");
            return;
        }
        if (path.startsWith(DEVICES) && p.length == 7 && p[5].equals("driver") && p[6].equals("unbind")) {
            failIfInjected(v, "unbind");
            unbind(v);
            return;
        }
        if (path.startsWith(DRIVERS) && p.length == 6 && (p[5].equals("unbind") || p[5].equals("bind"))) {
            failIfInjected(v, p[5]);
            if (p[5].equals("unbind")) {
                if (!p[4].equals(currentDriver(v).orElse(null))) throw new IOException("No such device (" + v + " is not bound to " + p[4] + ")");
                unbind(v);
            } else {
                bind(v, p[4]);
            }
            return;
        }
        super.write(path, value);
    }

    private void failIfInjected(String address, String step) throws IOException {
        if (!address.matches("[0-9a-f:.]+")) throw new IOException("No such device (" + address + ")");
        Optional<String> fail = read(".sim/fail/" + address);
        if (fail.isPresent() && fail.get().equals(step)) throw new IOException("Input/output error (injected failure of " + step + ")");
    }

    private Optional<String> currentDriver(String address) {
        return linkName(DEVICES + address + "/driver");
    }

    private Path deviceDir(String address) throws IOException {
        Path link = resolve(DEVICES + address);
        if (!Files.exists(link)) throw new IOException("No such device (" + address + ")");
        return link.toRealPath();
    }

    private void unbind(String address) throws IOException {
        Path dev = deviceDir(address);
        Optional<String> drv = currentDriver(address);
        if (drv.isEmpty()) throw new IOException("No such device (" + address + " has no driver)");
        Files.deleteIfExists(dev.resolve("driver"));
        Files.deleteIfExists(resolve(DRIVERS + drv.get() + "/" + address));
        setUeventDriver(dev, null);
        if (drv.get().equals("vfio-pci")) updateVfioNode(address);
    }

    /** drivers_probe: an unbound device goes to its override, or else to the driver whose id table matches. */
    private void probe(String address) throws IOException {
        Path dev = deviceDir(address);
        if (currentDriver(address).isPresent()) return;
        String override = read(DEVICES + address + "/driver_override").filter(s -> !s.equals("(null)") && !s.isEmpty()).orElse(null);
        String target = override != null ? override : read(".sim/native-driver/" + address).orElse(null);
        if (target == null || !Files.isDirectory(resolve(DRIVERS + target))) return; // nothing matches: stays unbound
        attach(dev, address, target);
    }

    private void bind(String address, String driver) throws IOException {
        Path dev = deviceDir(address);
        if (currentDriver(address).isPresent()) throw new IOException("Device or resource busy (" + address + " already has a driver)");
        String override = read(DEVICES + address + "/driver_override").filter(s -> !s.equals("(null)")).orElse(null);
        if (override != null && !override.equals(driver)) throw new IOException("No such device (driver_override is " + override + ")");
        attach(dev, address, driver);
    }

    private void attach(Path dev, String address, String driver) throws IOException {
        Path drvDir = resolve(DRIVERS + driver);
        Files.createSymbolicLink(dev.resolve("driver"), dev.relativize(drvDir.toRealPath()));
        Path back = drvDir.resolve(address);
        if (!Files.exists(back, LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(back, drvDir.toRealPath().relativize(dev));
        setUeventDriver(dev, driver);
        if (driver.equals("vfio-pci")) updateVfioNode(address);
    }

    private void setUeventDriver(Path dev, String driver) throws IOException {
        Path uevent = dev.resolve("uevent");
        if (!Files.exists(uevent)) return;
        StringBuilder sb = new StringBuilder();
        if (driver != null) sb.append("DRIVER=").append(driver).append('\n');
        for (String line : Files.readAllLines(uevent)) if (!line.startsWith("DRIVER=")) sb.append(line).append('\n');
        Files.writeString(uevent, sb.toString());
    }

    /** /dev/vfio/N exists while any member of group N is bound to vfio-pci. */
    private void updateVfioNode(String address) throws IOException {
        Optional<String> group = linkName(DEVICES + address + "/iommu_group");
        if (group.isEmpty()) return;
        boolean any = list("sys/kernel/iommu_groups/" + group.get() + "/devices").stream()
                .anyMatch(a -> currentDriver(a).map("vfio-pci"::equals).orElse(false));
        Path node = resolve("dev/vfio/" + group.get());
        if (any && !Files.exists(node)) {
            Files.createDirectories(node.getParent());
            Files.createFile(node);
        } else if (!any) {
            Files.deleteIfExists(node);
        }
    }
}
