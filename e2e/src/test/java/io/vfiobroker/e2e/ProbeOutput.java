package io.vfiobroker.e2e;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.util.List;
import java.util.Optional;

/** What a LeaseProbe (guest/LeaseProbe.java) printed in the guest: one JSON object per line, each with an "event". */
record ProbeOutput(VmResult vm, String name, List<JsonNode> lines) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static ProbeOutput of(VmResult vm, String name) {
        List<JsonNode> lines = vm.text(name + ".out").lines().filter(l -> l.startsWith("{")).map(JSON::readTree).toList();
        return new ProbeOutput(vm, name, lines);
    }

    /** The last line with this event, failing with the probe's whole output and stderr when there is none. */
    JsonNode last(String event) {
        return find(event).orElseThrow(() -> new AssertionError(vm + ": probe " + name + " printed no '" + event + "'\n"
                + describe()));
    }

    Optional<JsonNode> find(String event) {
        JsonNode found = null;
        for (JsonNode l : lines) if (event.equals(l.path("event").asString())) found = l;
        return Optional.ofNullable(found);
    }

    List<JsonNode> all(String event) {
        return lines.stream().filter(l -> event.equals(l.path("event").asString())).toList();
    }

    String exitStatus() {
        return vm.text(name + ".rc").strip();
    }

    String describe() {
        return "--- " + name + ".out\n" + vm.text(name + ".out") + "--- " + name + ".err (tail)\n"
                + String.join("\n", vm.text(name + ".err").lines().toList().subList(
                        Math.max(0, (int) vm.text(name + ".err").lines().count() - 15), (int) vm.text(name + ".err").lines().count()));
    }

    @Override
    public String toString() {
        return describe();
    }
}
