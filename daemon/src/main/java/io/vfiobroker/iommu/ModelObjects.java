package io.vfiobroker.iommu;

import io.vfiobroker.nativeshim.Errno;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The open files of {@link VfioKernelModel} and what each holds. A file is released, as on the kernel's last
 * close, once every fd of it (the open and its dups) is closed: a device leaves its iommufd, a group its container,
 * a container or iommufd drops its mappings. Not thread-safe: the model serializes.
 */
final class ModelObjects {

    abstract static class File {
        final List<OwnedFd> fds = new ArrayList<>();

        File(OwnedFd fd) {
            fds.add(fd);
        }

        boolean released() {
            for (OwnedFd fd : fds) if (fd.isOpen()) return false;
            return true;
        }
    }

    static final class ContainerFile extends File {
        final List<GroupFile> groups = new ArrayList<>();
        final List<long[]> maps = new ArrayList<>();
        boolean iommuSet;

        ContainerFile(OwnedFd fd) {
            super(fd);
        }
    }

    static final class GroupFile extends File {
        final int id;
        final Path node;
        ContainerFile container;

        GroupFile(OwnedFd fd, int id, Path node) {
            super(fd);
            this.id = id;
            this.node = node;
        }
    }

    static final class DeviceFile extends File {
        final String address;
        final int group;
        /** The group it was opened through; null for a cdev. */
        final GroupFile via;
        IommufdFile boundTo;
        int devId;
        int pt;

        DeviceFile(OwnedFd fd, String address, int group, GroupFile via) {
            super(fd);
            this.address = address;
            this.group = group;
            this.via = via;
        }
    }

    static final class IommufdFile extends File {
        final Set<Integer> ioas = new HashSet<>();
        final List<long[]> maps = new ArrayList<>();
        boolean perProcess;
        int objects;
        private int nextId = 1;

        IommufdFile(OwnedFd fd) {
            super(fd);
        }

        int newObject() {
            objects++;
            return nextId++;
        }
    }

    private final List<File> files = new ArrayList<>();

    void add(File f) {
        files.add(f);
    }

    OwnedFd dup(OwnedFd fd) {
        File f = byFd(fd);
        if (f == null) throw new NativeException("dup", Errno.EBADF, "fd " + fd.fd());
        OwnedFd copy = fd.duplicate();
        f.fds.add(copy);
        return copy;
    }

    /** Releases closed files: devices first (they hold their group), then groups, then containers and iommufds. */
    void reap() {
        // Once over the open files, not once per kind: every call of the model reaps, so this is on each ioctl's path.
        List<File> gone = new ArrayList<>();
        files.removeIf(f -> f.released() && gone.add(f));
        if (gone.isEmpty()) return;
        for (Class<?> kind : REAP_ORDER) {
            for (File f : gone) {
                if (!kind.isInstance(f)) continue;
                if (f instanceof DeviceFile d && d.boundTo != null) d.boundTo.objects -= d.pt != 0 ? 2 : 1;
                if (f instanceof GroupFile g && g.container != null) detach(g);
            }
        }
    }

    private static final List<Class<?>> REAP_ORDER = List.of(DeviceFile.class, GroupFile.class, ContainerFile.class, IommufdFile.class);

    /** The group leaves its container; the last group out takes the IOMMU and the mappings with it. */
    void detach(GroupFile g) {
        ContainerFile c = g.container;
        c.groups.remove(g);
        g.container = null;
        if (c.groups.isEmpty()) {
            c.iommuSet = false;
            c.maps.clear();
        }
    }

    boolean devicesOpenedThrough(GroupFile g) {
        return files.stream().anyMatch(f -> f instanceof DeviceFile d && d.via == g);
    }

    /** The open group file of IOMMU group {@code id}, or null. */
    GroupFile group(int id) {
        return files.stream().filter(f -> f instanceof GroupFile g && g.id == id).map(GroupFile.class::cast).findFirst().orElse(null);
    }

    GroupFile group(VfioKernel.Group g) {
        return typed(g.fd(), GroupFile.class, g.name());
    }

    ContainerFile container(VfioKernel.Container c) {
        return typed(c.fd(), ContainerFile.class, c.name());
    }

    DeviceFile device(VfioKernel.Device d) {
        return typed(d.fd(), DeviceFile.class, "device " + d.name());
    }

    IommufdFile iommufd(VfioKernel.IommuFd i) {
        return typed(i.fd(), IommufdFile.class, i.name());
    }

    /** An fd of another kind, or not of this model, is refused as the kernel refuses a foreign fd. */
    private <T extends File> T typed(OwnedFd fd, Class<T> kind, String context) {
        File f = byFd(fd);
        if (f == null) throw new NativeException("ioctl", Errno.EBADF, context);
        if (!kind.isInstance(f)) throw new NativeException("ioctl", Errno.ENOTTY, context);
        return kind.cast(f);
    }

    private File byFd(OwnedFd fd) {
        if (!fd.isOpen()) return null;
        for (File f : files) {
            for (OwnedFd o : f.fds) if (o == fd) return f;
        }
        return null;
    }

    /** Bytes mapped; a container whose fds are closed still pins through the groups attached to it. */
    long pinned() {
        Set<File> holders = new HashSet<>(files);
        for (File f : files) if (f instanceof GroupFile g && g.container != null) holders.add(g.container);
        long n = 0;
        for (File f : holders) {
            List<long[]> maps = f instanceof ContainerFile c ? c.maps : f instanceof IommufdFile i ? i.maps : List.of();
            for (long[] m : maps) n += m[1];
        }
        return n;
    }

    static boolean badRange(long vaddr, long iova, long size) {
        long page = 4096;
        return size <= 0 || ((vaddr | iova | size) & (page - 1)) != 0 || iova + size - 1 < iova || vaddr + size - 1 < vaddr;
    }

    /** A small file named and filled after what it stands for, written once and opened read-only per fd. */
    static OwnedFd standIn(Path dir, String what) {
        Path file = dir.resolve(what.replace(' ', '-'));
        try {
            if (!Files.exists(file)) Files.writeString(Files.createDirectories(dir).resolve(file.getFileName()), what + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Posix.open(file, LibcAbi.O_RDONLY);
    }

    static boolean overlaps(List<long[]> maps, long iova, long size) {
        return maps.stream().anyMatch(m -> iova < m[0] + m[1] && m[0] < iova + size);
    }

    int openFds() {
        return (int) files.stream().flatMap(f -> f.fds.stream()).filter(OwnedFd::isOpen).count();
    }

    String describe() {
        if (files.isEmpty()) return "idle";
        return files.stream().map(ModelObjects::describe).collect(Collectors.joining("; "));
    }

    private static String describe(File f) {
        if (f instanceof ContainerFile c) {
            return "container groups=" + c.groups.stream().map(g -> g.id).toList() + " iommu=" + c.iommuSet + " maps=" + c.maps.size();
        }
        if (f instanceof GroupFile g) return "group " + g.id + (g.container != null ? " in a container" : "");
        if (f instanceof DeviceFile d) return "device " + d.address + (d.boundTo != null ? " bound pt=" + d.pt : "");
        IommufdFile i = (IommufdFile) f;
        return "iommufd ioas=" + i.ioas + " objects=" + i.objects + " maps=" + i.maps.size();
    }
}
