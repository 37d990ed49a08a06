package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;

import java.util.List;

/**
 * An IOMMU group's members as a caller read them, with {@link BindingService#changes()} taken before that read. A bind
 * given this plans from these facts instead of reading every member again, unless a bind, release or reconcile ran
 * since or the group's member list differs: then the members are read again under the group's lock.
 */
public record GroupRead(int group, List<Device> members, long changesBefore) {
    public GroupRead {
        members = List.copyOf(members);
    }
}
