package io.vfiobroker.e2e;

import org.junit.jupiter.params.provider.Arguments;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Which boots the suite runs, in one place. Each boot costs minutes of one core (every JVM start in the guest is
 * ~30 s under TCG), and the test command has a time budget, so by default:
 * <ul>
 * <li>{@code broker} (scenarios 1-6) on every selected kernel with interrupt remapping, and without it on the built
 * kernel only (the policy and the kernel's EPERM do not differ between kernels);</li>
 * <li>{@code leases} ([V9], [V10], [V13]: grant, revoke, restart, dra) on the built kernel, the one with iommufd and SO_PEERPIDFD,
 * in a boot of its own so that it runs beside the others;</li>
 * <li>{@code crash} (the daemon killed after each sysfs write) only with {@code -De2e.crashPoints=true}.</li>
 * </ul>
 * {@code -De2e.kernels=all} (or a list) widens all three to those kernels.
 */
public final class Matrix {

    public static final String BROKER = "broker";
    public static final String LEASES = "leases";
    public static final String CRASH = "crash";
    public static final Duration VM_TIMEOUT = Duration.ofMinutes(40);

    private Matrix() {
    }

    private static boolean wide() {
        return !System.getProperty("e2e.kernels", "").isBlank();
    }

    private static List<Kernel> builtOrSelected() {
        List<Kernel> k = Kernel.selected();
        return wide() || !k.contains(Kernel.CUSTOM_6_12) ? k : List.of(Kernel.CUSTOM_6_12);
    }

    /** The broker boots: kernel x intremap. */
    public static Stream<Arguments> broker() {
        List<Arguments> out = new ArrayList<>();
        if (Iommu.selected().contains(Iommu.ON)) for (Kernel k : Kernel.selected()) out.add(Arguments.of(k, Iommu.ON));
        if (Iommu.selected().contains(Iommu.OFF)) for (Kernel k : builtOrSelected()) out.add(Arguments.of(k, Iommu.OFF));
        return out.stream();
    }

    /** The lease boots (intremap=on). */
    public static Stream<Arguments> leases() {
        return Iommu.selected().contains(Iommu.ON) ? builtOrSelected().stream().map(k -> Arguments.of(k, Iommu.ON)) : Stream.empty();
    }

    /** The crash-point boots, only when asked for. */
    public static Stream<Arguments> crash() {
        return Boolean.getBoolean("e2e.crashPoints") ? leases() : Stream.empty();
    }

    /** Submits every boot, longest first, so the two VMs at a time finish close together. */
    public static void submitAll() {
        crash().forEach(a -> submit(CRASH, a));
        leases().forEach(a -> submit(LEASES, a));
        broker().filter(a -> a.get()[0] == Kernel.CUSTOM_6_12 && a.get()[1] == Iommu.ON).forEach(a -> submit(BROKER, a));
        broker().filter(a -> !(a.get()[0] == Kernel.CUSTOM_6_12 && a.get()[1] == Iommu.ON)).forEach(a -> submit(BROKER, a));
    }

    private static void submit(String scenario, Arguments a) {
        VmBoots.submit(scenario, (Kernel) a.get()[0], (Iommu) a.get()[1], VM_TIMEOUT);
    }

    public static VmResult get(String scenario, Kernel kernel, Iommu iommu) {
        return VmBoots.get(scenario, kernel, iommu, VM_TIMEOUT).requireSuccess();
    }
}
