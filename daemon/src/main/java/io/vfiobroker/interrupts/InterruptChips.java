package io.vfiobroker.interrupts;

import io.vfiobroker.host.SysfsHost;

import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The interrupt chips the running kernel lists in /proc/interrupts. On x86 the kernel names every chip that
 * sits behind interrupt remapping "IR-…" (IR-IO-APIC, IR-PCI-MSI, IR-PCI-MSIX), so their presence tells
 * whether the kernel actually remaps, whatever the hardware could do (intremap=off leaves none).
 *
 * @param readable whether /proc/interrupts could be read at all
 * @param irChips  distinct IR- chip names, without the per-device suffix
 */
public record InterruptChips(boolean readable, Set<String> irChips) {

    private static final Pattern IR_CHIP = Pattern.compile("(?<![A-Za-z0-9-])IR-[A-Za-z0-9-]+");
    // "IR-PCI-MSIX-0000:01:00.0" names the device too; keep the chip.
    private static final Pattern DEVICE_SUFFIX = Pattern.compile("-[0-9a-fA-F]{4,5}$");

    public InterruptChips {
        irChips = java.util.Collections.unmodifiableSortedSet(new TreeSet<>(irChips)); // sorted: stable messages
    }

    public static InterruptChips unreadable() {
        return new InterruptChips(false, Set.of());
    }

    /** The host's chips now. */
    public static InterruptChips read(SysfsHost host) {
        return host.interrupts().map(InterruptChips::parse).orElse(unreadable());
    }

    public static InterruptChips parse(String text) {
        Set<String> chips = new TreeSet<>();
        Matcher m = IR_CHIP.matcher(text);
        while (m.find()) {
            String chip = m.group();
            // Strip a trailing "-DDDD:BB:DD.F": the regex stops at ':' so only the domain part is left over.
            chips.add(DEVICE_SUFFIX.matcher(chip).replaceFirst(""));
        }
        return new InterruptChips(true, chips);
    }

    /** TRUE/FALSE when the file was read, null when it could not be. */
    public Boolean kernelRemaps() {
        return readable ? !irChips.isEmpty() : null;
    }

    public String describe() {
        if (!readable) return "/proc/interrupts is unreadable";
        if (irChips.isEmpty()) return "/proc/interrupts shows no IR- interrupt chips";
        return "/proc/interrupts shows " + String.join(", ", irChips);
    }
}
