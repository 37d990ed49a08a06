package io.vfiobroker.interrupts;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.host.SysfsHost;

import java.util.Optional;

/**
 * The kernel's own gates on devices without interrupt isolation. Each refuses with EPERM unless its module
 * parameter is Y, whatever the broker's policy says — so the broker reads them before granting.
 */
public enum UnsafeInterruptSwitch {
    /** Legacy container path: VFIO_SET_IOMMU fails. */
    TYPE1(Backend.LEGACY, "vfio_iommu_type1", "VFIO_SET_IOMMU"),
    /** iommufd path: binding the device to the iommufd fails. */
    IOMMUFD(Backend.IOMMUFD, "iommufd", "VFIO_DEVICE_BIND_IOMMUFD");

    private final Backend backend;
    private final String module;
    private final String ioctl;

    UnsafeInterruptSwitch(Backend backend, String module, String ioctl) {
        this.backend = backend;
        this.module = module;
        this.ioctl = ioctl;
    }

    /** The backend whose open this switch gates. */
    public Backend backend() { return backend; }

    /** The switch that gates a LEGACY or IOMMUFD open. */
    public static UnsafeInterruptSwitch of(Backend b) {
        return b == Backend.IOMMUFD ? IOMMUFD : TYPE1;
    }

    public String module() { return module; }

    public String ioctl() { return ioctl; }

    public String parameterPath() {
        return "/" + parameter();
    }

    /** The module parameter below the host root, as the kernel reads it at {@link #ioctl()}. */
    public String parameter() {
        return "sys/module/" + module + "/parameters/allow_unsafe_interrupts";
    }

    /** The parameter as the host shows it now (Y or N), empty when the module is not loaded. */
    public Optional<String> read(SysfsHost host) {
        return host.read(parameter()).map(String::strip);
    }

    /** TRUE/FALSE as the host shows it now, null when the module is not loaded: what the inventory reports. */
    public Boolean allowed(SysfsHost host) {
        return read(host).map(v -> v.equals("Y") || v.equals("1")).orElse(null);
    }

    /** TRUE/FALSE as the kernel reports it, null when the module is not loaded (it then starts as N). */
    public Boolean state(KernelSupport k) {
        return this == TYPE1 ? k.type1AllowUnsafeInterrupts() : k.iommufdAllowUnsafeInterrupts();
    }

    public boolean allows(KernelSupport k) {
        return Boolean.TRUE.equals(state(k));
    }

    /** Why the kernel will refuse and how an admin changes that. */
    public String refusal(KernelSupport k) {
        String now = state(k) == null ? "is not loaded (its allow_unsafe_interrupts starts as N)"
                : "has allow_unsafe_interrupts=N";
        return module + " " + now + ", so " + ioctl + " would fail with EPERM; " + howToAllow();
    }

    /** What to add to the kernel's EPERM at {@link #ioctl()}: why it refused and how an admin changes that. */
    public String kernelRefused(SysfsHost host) {
        String current = read(host).orElse("?");
        String other = this == IOMMUFD ? " (a separate switch from vfio_iommu_type1's)" : "";
        return "the kernel refuses because this platform does not remap interrupts and " + module + " allow_unsafe_interrupts is "
                + current + other + "; " + howToAllow();
    }

    private String howToAllow() {
        return "set it with 'echo Y > " + parameterPath() + "' or 'options " + module + " allow_unsafe_interrupts=1' in /etc/modprobe.d/";
    }
}
