package io.vfiobroker.host;

import java.util.List;
import java.util.Map;

/** A sysfs directory read at once: entry names (when listed), trimmed text attributes, and link targets as stored. */
public record DirSnapshot(List<String> entries, Map<String, String> files, Map<String, String> links) {
}
