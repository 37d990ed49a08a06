package io.vfiobroker.domain;

/** A PCI function address, {@code DDDD:BB:DD.F}; the only form in which an address ever reaches a sysfs path. */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {

    // The form DDDD:BB:DD.F, hex, checked by hand rather than by a regex: a full inventory parses every name under
    // /sys/bus/pci/devices. Domains above 0xffff exist (Intel VMD uses 10000+), so a fifth domain digit is allowed.
    private static final int TAIL = ":BB:DD.F".length();

    public PciAddress {
        if (domain < 0 || domain > 0xfffff) throw new IllegalArgumentException("PCI domain out of range: " + domain);
        if (bus < 0 || bus > 0xff) throw new IllegalArgumentException("PCI bus out of range: " + bus);
        if (device < 0 || device > 0x1f) throw new IllegalArgumentException("PCI device out of range: " + device);
        if (function < 0 || function > 7) throw new IllegalArgumentException("PCI function out of range: " + function);
    }

    /** Parses {@code DDDD:BB:DD.F}; anything else, {@code ../../..} included, is rejected with a message naming it. */
    public static PciAddress parse(String text) {
        if (text == null) throw new InvalidAddressException("null", "no address given");
        int[] f = fields(text);
        if (f == null) throw new InvalidAddressException(text, "expected DDDD:BB:DD.F in hex, e.g. 0000:3b:00.1");
        if (f[2] > 0x1f) {
            throw new InvalidAddressException(text, "device number " + text.substring(text.length() - 4, text.length() - 2) + " is above 1f");
        }
        return new PciAddress(f[0], f[1], f[2], f[3]);
    }

    public static boolean isValid(String text) {
        int[] f = text == null ? null : fields(text);
        return f != null && f[2] <= 0x1f;
    }

    /** Domain, bus, device and function of text in the form, each in its digits' range; null when not in the form. */
    private static int[] fields(String t) {
        int domainDigits = t.length() - TAIL;
        if (domainDigits != 4 && domainDigits != 5) return null;
        int at = domainDigits;
        if (t.charAt(at) != ':' || t.charAt(at + 3) != ':' || t.charAt(at + 6) != '.') return null;
        int domain = hex(t, 0, at);
        int bus = hex(t, at + 1, at + 3);
        int device = hex(t, at + 4, at + 6);
        char fn = t.charAt(at + 7);
        if (domain < 0 || bus < 0 || device < 0 || fn < '0' || fn > '7') return null;
        return new int[] {domain, bus, device, fn - '0'};
    }

    /** The ASCII hex digits t[from, to) as a number; -1 when any is not one (Character.digit would take other scripts'). */
    private static int hex(String t, int from, int to) {
        int v = 0;
        for (int i = from; i < to; i++) {
            char c = t.charAt(i);
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        return v;
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
