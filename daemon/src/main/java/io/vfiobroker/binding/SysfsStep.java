package io.vfiobroker.binding;

import io.vfiobroker.domain.PciAddress;

/** One write to a sysfs attribute, as the dry run prints it and the journal records it. */
public record SysfsStep(PciAddress device, String action, String path, String value) {
    @Override
    public String toString() {
        String shown = value.equals("\n") ? "\\n" : value;
        return "echo '" + shown + "' > /" + path + "    # " + action + " " + device;
    }
}
