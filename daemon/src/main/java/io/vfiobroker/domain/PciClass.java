package io.vfiobroker.domain;

/** The 24-bit PCI class code (class, subclass, prog-if). */
public record PciClass(int code) {
    public int baseClass() { return (code >> 16) & 0xff; }
    public int subClass() { return (code >> 8) & 0xff; }

    public boolean isBridge() { return baseClass() == 0x06; }
    public boolean isPciBridge() { return baseClass() == 0x06 && subClass() == 0x04; }
    public boolean isDisplay() { return baseClass() == 0x03; }
    public boolean isNetwork() { return baseClass() == 0x02; }
    public boolean isStorage() { return baseClass() == 0x01; }

    public String hex() { return String.format("%06x", code); }

    @Override
    public String toString() { return hex(); }
}
