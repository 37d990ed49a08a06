package io.vfiobroker.kubelet;

import io.vfiobroker.nodeplugin.PoolDevice;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Picks {@code size} devices out of the kubelet's candidates: all on one NUMA node when one node can hold the
 * request, and whole IOMMU groups before split ones — a group is assigned as a unit, so splitting it across
 * pods hands each pod its sibling's group node too. Advice only; the kubelet may choose otherwise.
 */
final class PreferredAllocation {

    private PreferredAllocation() {
    }

    static List<String> choose(List<String> available, List<String> mustInclude, int size, Map<String, PoolDevice> known) {
        Set<String> chosen = new LinkedHashSet<>(mustInclude);
        if (chosen.size() >= size) return List.copyOf(chosen);
        // Unknown or unhealthy ids go last: the kubelet offered them, but we would refuse them in Allocate.
        List<PoolDevice> candidates = available.stream().filter(id -> !chosen.contains(id)).map(known::get)
                .filter(d -> d != null && d.healthy()).toList();
        Function<PoolDevice, Integer> nodeOf = PoolDevice::numaNode;

        // The node: that of the devices we must include if they agree, else the one with the most candidates.
        Set<Integer> mustNodes = chosen.stream().map(known::get).filter(d -> d != null).map(nodeOf).collect(Collectors.toSet());
        Map<Integer, List<PoolDevice>> byNode = candidates.stream().collect(Collectors.groupingBy(nodeOf, TreeMap::new, Collectors.toList()));
        List<Integer> nodeOrder = new ArrayList<>(byNode.keySet());
        int need = size - chosen.size();
        // Rank nodes by a dry run: can it hold the request, and how many groups would it split?
        Map<Integer, Integer> splits = new java.util.HashMap<>();
        for (int n : nodeOrder) splits.put(n, takeGroups(byNode.get(n), new LinkedHashSet<>(chosen), size, known));
        nodeOrder.sort(Comparator.<Integer>comparingInt(n -> mustNodes.size() == 1 && mustNodes.contains(n) ? 0 : 1)
                .thenComparingInt(n -> byNode.get(n).size() >= need ? 0 : 1)
                .thenComparingInt(splits::get)
                .thenComparingInt(n -> -byNode.get(n).size())
                .thenComparingInt(n -> n));

        for (int node : nodeOrder) {
            takeGroups(byNode.get(node), chosen, size, known);
            if (chosen.size() >= size) break;
        }
        // Whatever is still missing comes from the ids we could not vouch for, in the kubelet's order.
        for (String id : available) {
            if (chosen.size() >= size) break;
            chosen.add(id);
        }
        return List.copyOf(chosen);
    }

    /** Adds devices group by group; returns how many groups it had to split. */
    private static int takeGroups(List<PoolDevice> onNode, Set<String> chosen, int size, Map<String, PoolDevice> known) {
        int split = 0;
        Map<Object, List<PoolDevice>> groups = onNode.stream().collect(Collectors.groupingBy(
                d -> d.group() == null ? (Object) d.id() : d.group(), java.util.LinkedHashMap::new, Collectors.toList()));
        Set<Integer> chosenGroups = chosen.stream().map(known::get).filter(d -> d != null && d.group() != null)
                .map(PoolDevice::group).collect(Collectors.toSet());
        while (chosen.size() < size && !groups.isEmpty()) {
            int need = size - chosen.size();
            Object pick = groups.entrySet().stream().min(Comparator
                            // siblings of what is already chosen first: that group is assigned anyway
                            .<Map.Entry<Object, List<PoolDevice>>>comparingInt(e -> chosenGroups.contains(e.getKey()) ? 0 : 1)
                            // then groups that fit whole, biggest first; then the smallest group to split
                            .thenComparingInt(e -> e.getValue().size() <= need ? 0 : 1)
                            .thenComparingInt(e -> e.getValue().size() <= need ? -e.getValue().size() : e.getValue().size())
                            .thenComparing(e -> e.getValue().get(0).address()))
                    .map(Map.Entry::getKey).orElseThrow();
            List<PoolDevice> members = groups.remove(pick);
            if (members.size() > size - chosen.size()) split++;
            for (PoolDevice d : members) {
                if (chosen.size() >= size) break;
                chosen.add(d.id());
            }
        }
        return split;
    }
}
