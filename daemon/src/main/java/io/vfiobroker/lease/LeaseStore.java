package io.vfiobroker.lease;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.nativeshim.Rlimits;
import io.vfiobroker.policy.Principal;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The active leases, so a restarted daemon can take its clients back: they keep their fds across the restart,
 * and their devices must not be given to anyone else meanwhile. A client is recognised by pid plus process start
 * time, so a reused pid is not mistaken for it.
 * <p>
 * JSON lines, one per change ({@code add} or {@code end}), appended with one write: rewriting every active lease
 * on every change costs as much as there are leases, twice a cycle. Rewritten whole (temporary file and rename)
 * when ended leases outnumber the active ones. Not fsynced: it serves a restart of the daemon, and the page cache
 * outlives the daemon; a machine that loses power loses the clients too.
 */
public final class LeaseStore {

    /** What a restart needs to watch a client again and to restore its devices when it goes. */
    public record Stored(String id, int pid, long startTime, int uid, int gid, List<Lease.Device> devices, Backend backend,
                         boolean unsafeInterrupts, String rule, long memlockLimitBytes, boolean keepBound, String created,
                         List<Lease.Device> members, Long memlockBeforeCur, Long memlockBeforeMax, Boolean redeemed) {

        public Stored(String id, int pid, long startTime, int uid, int gid, List<Lease.Device> devices, Backend backend,
                      boolean unsafeInterrupts, String rule, long memlockLimitBytes, boolean keepBound, String created) {
            this(id, pid, startTime, uid, gid, devices, backend, unsafeInterrupts, rule, memlockLimitBytes, keepBound, created, null, null,
                    null, true);
        }

        public Stored {
            members = members == null ? List.of() : List.copyOf(members);
        }

        /** Fds collected; lines of earlier versions, which stored only active leases, have no field and were. */
        boolean collected() {
            return redeemed == null || redeemed;
        }

        /** As a previous daemon left it: ACTIVE, adopted (the daemon holds none of its fds now). */
        LeaseRegistry.Held adopt() {
            Lease lease = new Lease(id, new Caller(pid, uid, gid), devices, members, backend, unsafeInterrupts, rule, memlockLimitBytes,
                    Lease.State.ACTIVE, java.time.Instant.parse(created), null, null, List.of());
            Rlimits.Rlimit before = memlockBeforeCur == null ? null : new Rlimits.Rlimit(memlockBeforeCur, memlockBeforeMax);
            return new LeaseRegistry.Held(lease, DeviceDomain.adopted(backend), before, keepBound, startTime, Principal.of(uid, gid), true);
        }

        static Stored of(LeaseRegistry.Held h) {
            Lease l = h.lease();
            Rlimits.Rlimit b = h.memlockBefore();
            return new Stored(l.id(), l.holder().pid(), h.startTime(), l.holder().uid(), l.holder().gid(), l.devices(), l.backend(),
                    l.unsafeInterrupts(), l.rule(), l.memlockLimitBytes(), h.keepBound(), l.created().toString(), l.groupMembers(),
                    b == null ? null : b.soft(), b == null ? null : b.hard(), l.state() != Lease.State.GRANTED);
        }

        Stored redeemedNow() {
            return new Stored(id, pid, startTime, uid, gid, devices, backend, unsafeInterrupts, rule, memlockLimitBytes, keepBound, created,
                    members, memlockBeforeCur, memlockBeforeMax, true);
        }
    }

    /** One line of the file: {@code lease} set for "add", {@code id} for "redeemed" (fds collected) and "end". */
    record Change(String op, String id, Stored lease) {
    }

    private static final JsonMapper JSON = JsonMapper.builder().addModule(io.vfiobroker.json.DomainJson.module()).build();
    private static final int MIN_LINES_BEFORE_COMPACTION = 64;

    /** Opens the file for appending: a seam for tests that make a write fail halfway. */
    interface Opener {
        FileChannel open(Path file) throws IOException;
    }

    private final Path file;
    private final Opener opener;
    private FileChannel out;
    private final Map<String, Stored> active = new LinkedHashMap<>();
    /** Ends that came before their add (a client gone right after its commit): the add is then not written. */
    private final Set<String> endedFirst = java.util.Collections.newSetFromMap(new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > 256; // an add follows its early end within milliseconds; failed Acquires end ids never added
        }
    });
    private int lines;

    public LeaseStore(Path file) {
        this(file, f -> FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND));
    }

    LeaseStore(Path file, Opener opener) {
        this.file = file;
        this.opener = opener;
    }

    /** Replaces the whole store with {@code leases}. */
    public synchronized void write(List<Stored> leases) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        StringBuilder sb = new StringBuilder();
        for (Stored s : leases) sb.append(JSON.writeValueAsString(new Change("add", s.id(), s))).append('\n');
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            closeOut();
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write lease store " + file + ": " + e.getMessage(), e);
        }
        active.clear();
        for (Stored s : leases) active.put(s.id(), s);
        lines = leases.size();
    }

    public synchronized void added(Stored lease) {
        if (endedFirst.remove(lease.id())) return; // a restart must not adopt a lease that has ended
        append(new Change("add", lease.id(), lease));
        active.put(lease.id(), lease);
    }

    public synchronized void redeemed(String id) {
        Stored s = active.get(id);
        if (s == null) return;
        append(new Change("redeemed", id, null));
        active.put(id, s.redeemedNow());
    }

    public synchronized void ended(String id) {
        if (active.remove(id) == null) {
            endedFirst.add(id);
            return;
        }
        append(new Change("end", id, null));
        if (lines > MIN_LINES_BEFORE_COMPACTION && lines > 2 * active.size()) write(new ArrayList<>(active.values()));
    }

    private void append(Change c) {
        long before = -1;
        try {
            if (out == null) {
                Files.createDirectories(file.getParent());
                out = opener.open(file);
            }
            before = out.size();
            ByteBuffer line = ByteBuffer.wrap((JSON.writeValueAsString(c) + "\n").getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) out.write(line);
            lines++;
        } catch (IOException e) {
            cutTornLine(before);
            throw new UncheckedIOException("cannot write lease store " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A write that failed halfway (disk full) leaves part of a line, which the next line would run into: the whole
     * file would then read as corrupt at a restart. Cut back to where the line began.
     */
    private void cutTornLine(long size) {
        if (out == null || size < 0) return;
        try {
            out.truncate(size);
        } catch (IOException e) {
            // The next read finds the torn line and keeps the file aside for a person; nothing more to do here.
        }
    }

    private void closeOut() throws IOException {
        if (out != null) {
            out.close();
            out = null;
        }
    }

    /** The leases the file holds: every "add" not followed by its "end". A torn last line (crash mid-write) is skipped. */
    public synchronized List<Stored> read() {
        if (!Files.exists(file)) return List.of();
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            if (text.stripLeading().startsWith("[")) {
                // The whole-array form earlier versions rewrote on every change: a daemon upgrade must take it over.
                return List.copyOf(JSON.readValue(text, new tools.jackson.core.type.TypeReference<List<Stored>>() {
                }));
            }
            Map<String, Stored> leases = new LinkedHashMap<>();
            List<String> all = text.lines().toList();
            for (int i = 0; i < all.size(); i++) {
                String line = all.get(i);
                if (line.isBlank()) continue;
                Change c;
                try {
                    c = JSON.readValue(line, Change.class);
                } catch (RuntimeException e) {
                    if (i == all.size() - 1) break; // torn by a crash mid-append
                    throw e;
                }
                if ("add".equals(c.op()) && c.lease() != null) leases.put(c.lease().id(), c.lease());
                else if ("redeemed".equals(c.op())) leases.computeIfPresent(c.id(), (k, v) -> v.redeemedNow());
                else if ("end".equals(c.op())) leases.remove(c.id());
                else throw new IllegalArgumentException("line " + (i + 1) + ": unknown change '" + c.op() + "'");
            }
            return List.copyOf(leases.values());
        } catch (IOException | RuntimeException e) {
            // Never emptied: the unreadable file is kept aside for a person to read, and the caller reports it. The binding
            // journal still knows the devices.
            Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + System.currentTimeMillis());
            String kept;
            try {
                closeOut();
                Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
                kept = "; moved aside to " + aside;
            } catch (IOException m) {
                kept = "; could not move it aside: " + m.getMessage();
            }
            throw new IllegalStateException("cannot read lease store " + file + ": " + e.getMessage() + kept, e);
        }
    }

}
