package io.vfiobroker.policy;

import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.interrupts.InterruptChips;
import io.vfiobroker.inventory.InventoryScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The policy in force and decisions against the current host. Thread-safe: readers see one immutable
 * snapshot; loads are serialised. Reloads on {@link #reload()}, on file change ({@link #startWatching}) and
 * on SIGHUP ({@link #installSighup}). A bad file never replaces a good one; a missing file means default deny.
 */
public final class PolicyService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PolicyService.class);

    private record Snapshot(Policy policy, LoadStatus status, String lastSeenSha) {
    }

    // /proc/interrupts changes only at boot in the way that matters (IR- chips), and is large on many-core hosts.
    private static final long CHIPS_TTL_NS = 1_000_000_000L;

    private record Chips(InterruptChips chips, long readAt) {
    }

    private final Path file;
    private final InventoryScanner scanner;
    private volatile Snapshot snapshot;
    private volatile Chips chips;
    private volatile Thread watcher;
    private volatile WatchService watchService;
    private volatile boolean closed;
    private sun.misc.SignalHandler sighup;
    private sun.misc.SignalHandler previousSighup;

    public PolicyService(Path file, InventoryScanner scanner) {
        this.file = file.toAbsolutePath().normalize();
        this.scanner = scanner;
        this.snapshot = new Snapshot(Policy.defaultDeny(), null, null);
        reload();
    }

    public Path source() {
        return file;
    }

    public Policy current() {
        return snapshot.policy();
    }

    public LoadStatus status() {
        return snapshot.status();
    }

    public Decision decide(Principal who, PciAddress address) {
        return explain(who, address).decision();
    }

    /** For callers that already hold a fresh inventory (a broker looping over candidate devices). */
    public Decision decide(Principal who, PciAddress address, HostInventory inventory) {
        return explain(who, address, inventory).decision();
    }

    public Explanation explain(Principal who, PciAddress address) {
        return explain(who, address, scanner.scan());
    }

    public Explanation explain(Principal who, PciAddress address, HostInventory inventory) {
        return PolicyEngine.evaluate(current(), who, address, inventory, interruptChips(), accounts());
    }

    private InterruptChips interruptChips() {
        Chips c = chips;
        long now = System.nanoTime();
        if (c == null || now - c.readAt() > CHIPS_TTL_NS) {
            c = new Chips(InterruptChips.read(scanner.host()), now);
            chips = c;
        }
        return c.chips();
    }

    /** The account files parsed again only when one of them changed (size, mtime or inode). */
    private Accounts accounts() {
        return scanner.host().accounts();
    }

    /** Reads the file again, whether or not it changed. */
    public synchronized LoadStatus reload() {
        return loaded(load(true));
    }

    /** Reads the file, and acts only when its content differs from what was last seen (watcher, polling). */
    synchronized LoadStatus reloadIfChanged() {
        LoadStatus before = snapshot.status();
        LoadStatus after = load(false);
        return after == before ? after : loaded(after);
    }

    private final java.util.List<java.util.function.Consumer<LoadStatus>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Called after every load attempt that produced a new status (explicit reload, file change, SIGHUP). */
    public void addListener(java.util.function.Consumer<LoadStatus> l) {
        listeners.add(l);
    }

    private LoadStatus loaded(LoadStatus st) {
        for (java.util.function.Consumer<LoadStatus> l : listeners) {
            try {
                l.accept(st);
            } catch (RuntimeException e) {
                log.warn("event=policy-listener-failed error=\"{}\"", e.getMessage());
            }
        }
        return st;
    }

    private LoadStatus load(boolean always) {
        Snapshot old = snapshot;
        String now = Instant.now().toString();
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            if (!always && old.status() != null && old.status().state() == LoadStatus.State.MISSING) return old.status();
            // No file is a statement too: nothing is granted. Leases already handed out are not touched here.
            LoadStatus st = new LoadStatus(LoadStatus.State.MISSING, file.toString(), file + " does not exist: no policy,"
                    + " every request is refused (default deny)", List.of(), null, now, 0, now);
            snapshot = new Snapshot(Policy.defaultDeny(), st, null);
            log.warn("event=policy-missing source={} in-force=default-deny", file);
            return st;
        } catch (IOException | java.io.UncheckedIOException e) {
            return reject(old, now, null, List.of(new PolicyError(0, 0, "", "cannot read the file: " + e.getMessage())));
        }
        String sha = sha256(text);
        if (!always && sha.equals(old.lastSeenSha())) return old.status();
        Policy policy;
        try {
            policy = PolicyParser.parse(text, file.toString());
        } catch (PolicyException e) {
            return reject(old, now, sha, e.errors());
        }
        LoadStatus st = new LoadStatus(LoadStatus.State.LOADED, file.toString(), "loaded " + file + ": "
                + policy.rules().size() + (policy.rules().size() == 1 ? " rule" : " rules"), List.of(), sha, now, policy.rules().size(), now);
        snapshot = new Snapshot(policy, st, sha);
        log.info("event=policy-loaded source={} rules={} sha256={}", file, policy.rules().size(), sha);
        return st;
    }

    private LoadStatus reject(Snapshot old, String now, String sha, List<PolicyError> errors) {
        LoadStatus prev = old.status();
        boolean hadFile = prev != null && prev.activeSha256() != null;
        String inForce = hadFile ? "the policy loaded at " + prev.activeSince() + " (sha256 " + prev.activeSha256().substring(0, 12) + ") stays in force"
                : "default deny stays in force";
        LoadStatus st = new LoadStatus(LoadStatus.State.REJECTED, file.toString(), file + " was rejected ("
                + errors.size() + (errors.size() == 1 ? " error" : " errors") + "); " + inForce, errors,
                hadFile ? prev.activeSha256() : null, prev != null ? prev.activeSince() : now,
                old.policy().rules().size(), now);
        snapshot = new Snapshot(old.policy(), st, sha);
        log.warn("event=policy-rejected source={} errors={} first=\"{}\" in-force={}", file, errors.size(),
                errors.isEmpty() ? "" : errors.get(0), hadFile ? prev.activeSha256() : "default-deny");
        return st;
    }

    /**
     * Watches the file's directory (inotify) and also re-checks every {@code poll}: the directory may not exist
     * yet, and Kubernetes ConfigMaps change the file by swapping a symlink in the directory, not by writing it.
     */
    public synchronized void startWatching(Duration poll) {
        if (watcher != null || closed) return;
        Path dir = file.getParent();
        try {
            WatchService ws = dir.getFileSystem().newWatchService();
            dir.register(ws, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                    StandardWatchEventKinds.ENTRY_DELETE);
            watchService = ws;
        } catch (IOException e) {
            log.info("event=policy-watch-polling dir={} reason=\"{}\" interval={}", dir, e.getMessage(), poll);
        }
        watcher = Daemons.start("policy-watch", () -> watchLoop(poll));
    }

    private void watchLoop(Duration poll) {
        while (!closed) {
            try {
                WatchService ws = watchService;
                if (ws != null) {
                    var key = ws.poll(poll.toMillis(), TimeUnit.MILLISECONDS);
                    if (key != null) {
                        // Editors write in bursts (temp file, rename, chmod): let the burst finish, then read once.
                        Thread.sleep(50);
                        key.pollEvents();
                        key.reset();
                        var more = ws.poll();
                        while (more != null) {
                            more.pollEvents();
                            more.reset();
                            more = ws.poll();
                        }
                    }
                } else {
                    Thread.sleep(poll.toMillis());
                }
                if (!closed) reloadIfChanged();
            } catch (InterruptedException | ClosedWatchServiceException e) {
                return;
            } catch (RuntimeException e) {
                log.warn("event=policy-watch-error error=\"{}\"", e.toString());
            }
        }
    }

    /** Reloads on SIGHUP, the daemon convention. False when the JVM would not let us (e.g. run with -Xrs). */
    public synchronized boolean installSighup() {
        if (sighup != null || closed) return sighup != null;
        try {
            sun.misc.SignalHandler mine = sig -> {
                log.info("event=policy-sighup source={}", file);
                reload();
            };
            sun.misc.Signal hup = new sun.misc.Signal("HUP");
            sun.misc.SignalHandler before = sun.misc.Signal.handle(hup, mine);
            if (before == sun.misc.SignalHandler.SIG_IGN) {
                // Ignored when the JVM started (nohup, a parent's SIG_IGN): the JVM then installs nothing and a
                // SIGHUP never arrives, so say so instead of promising a reload.
                sun.misc.Signal.handle(hup, before);
                log.warn("event=policy-sighup-unavailable reason=\"SIGHUP is ignored by this process (inherited, e.g. from nohup)\" "
                        + "reload=\"the file watch, or POST /api/v1/policy/reload\"");
                return false;
            }
            previousSighup = before;
            sighup = mine;
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            log.warn("event=policy-sighup-unavailable reason=\"{}\"", e.getMessage());
            return false;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (sighup != null) {
            // Hand SIGHUP back only if nobody replaced us meanwhile (tests start several contexts in one JVM).
            sun.misc.Signal hup = new sun.misc.Signal("HUP");
            sun.misc.SignalHandler current = sun.misc.Signal.handle(hup, previousSighup);
            if (current != sighup) sun.misc.Signal.handle(hup, current);
            sighup = null;
        }
        Thread t = watcher;
        if (t != null) t.interrupt();
        WatchService ws = watchService;
        if (ws != null) {
            try {
                ws.close();
            } catch (IOException ignored) {
                // closing a watch service only frees its inotify descriptor
            }
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }
}
