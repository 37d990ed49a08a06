package io.vfiobroker.host;

import java.util.Map;

/** A sysfs directory read at once: trimmed text attributes, and link targets as stored. */
public record DirSnapshot(Map<String, String> files, Map<String, String> links) {
}
