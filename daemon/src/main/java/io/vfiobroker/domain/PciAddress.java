package io.vfiobroker.domain;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A PCI function address, {@code DDDD:BB:DD.F}; the only form in which an address ever reaches a sysfs path. */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {

    // Domains above 0xffff exist (Intel VMD uses 10000+), so allow a fifth digit.
    private static final Pattern FORM = Pattern.compile("([0-9a-fA-F]{4,5}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])");

    public PciAddress {
        if (domain < 0 || domain > 0xfffff) throw new IllegalArgumentException("PCI domain out of range: " + domain);
        if (bus < 0 || bus > 0xff) throw new IllegalArgumentException("PCI bus out of range: " + bus);
        if (device < 0 || device > 0x1f) throw new IllegalArgumentException("PCI device out of range: " + device);
        if (function < 0 || function > 7) throw new IllegalArgumentException("PCI function out of range: " + function);
    }

    /** Parses {@code DDDD:BB:DD.F}; anything else, {@code ../../..} included, is rejected with a message naming it. */
    public static PciAddress parse(String text) {
        if (text == null) throw new InvalidAddressException("null", "no address given");
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new InvalidAddressException(text, "expected DDDD:BB:DD.F in hex, e.g. 0000:3b:00.1");
        }
        int dev = Integer.parseInt(m.group(3), 16);
        if (dev > 0x1f) throw new InvalidAddressException(text, "device number " + m.group(3) + " is above 1f");
        return new PciAddress(Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16), dev,
                Integer.parseInt(m.group(4)));
    }

    public static boolean isValid(String text) {
        if (text == null) return false;
        Matcher m = FORM.matcher(text);
        return m.matches() && Integer.parseInt(m.group(3), 16) <= 0x1f;
    }

    // Built by hand: String.format was a twentieth of the daemon's CPU per lease cycle (bench/run.sh lease, JFR).
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(13);
        hex(b, domain, 4).append(':');
        hex(b, bus, 2).append(':');
        return hex(b, device, 2).append('.').append(Character.forDigit(function, 16)).toString();
    }

    private static StringBuilder hex(StringBuilder b, int value, int width) {
        String digits = Integer.toHexString(value);
        for (int i = digits.length(); i < width; i++) b.append('0');
        return b.append(digits);
    }

    @Override
    public int compareTo(PciAddress o) {
        int c = Integer.compare(domain, o.domain);
        if (c == 0) c = Integer.compare(bus, o.bus);
        if (c == 0) c = Integer.compare(device, o.device);
        if (c == 0) c = Integer.compare(function, o.function);
        return c;
    }

    /** Bad address input: the message names the text that was wrong and the expected form. */
    public static final class InvalidAddressException extends IllegalArgumentException {
        private final String input;

        public InvalidAddressException(String input, String why) {
            super("invalid PCI address '" + input + "': " + why);
            this.input = input;
        }

        public String input() { return input; }
    }
}
