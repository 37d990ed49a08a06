package io.vfiobroker.quota;

import java.util.HashMap;
import java.util.Map;

/**
 * Open things (streams, fd.sock connections) counted per uid, with a reserve for admins: a non-admin uid may hold
 * at most {@code perUid}, and all non-admins together at most {@code total - adminReserve}; admins are bounded only
 * by {@code total}, so however many uids pile in, an admin still finds {@code adminReserve} free slots.
 */
public final class UidQuota {

    /** One taken slot; closing gives it back (once). */
    public final class Slot implements AutoCloseable {
        private final int uid;
        private final boolean admin;
        private boolean closed;

        private Slot(int uid, boolean admin) {
            this.uid = uid;
            this.admin = admin;
        }

        public int uid() {
            return uid;
        }

        @Override
        public void close() {
            synchronized (UidQuota.this) {
                if (closed) return;
                closed = true;
                total--;
                if (!admin) {
                    othersTotal--;
                    perUidCount.computeIfPresent(uid, (k, v) -> v <= 1 ? null : v - 1);
                }
            }
        }
    }

    private final String what;
    private final String property;
    private final int perUid;
    private final int max;
    private final int adminReserve;
    private final Map<Integer, Integer> perUidCount = new HashMap<>();
    private int total;
    private int othersTotal;

    /**
     * @param what     what is counted, for messages ("event streams")
     * @param property the settings prefix naming the caps, for messages ("vfio-broker.quota.streams")
     */
    public UidQuota(String what, String property, int perUid, int total, int adminReserve) {
        if (perUid < 1 || total < 1 || adminReserve < 0 || adminReserve >= total) {
            throw new IllegalArgumentException(property + ": per-uid and total must be positive and the admin reserve below the total");
        }
        this.what = what;
        this.property = property;
        this.perUid = perUid;
        this.max = total;
        this.adminReserve = adminReserve;
    }

    /** Takes a slot for {@code uid} or throws {@link QuotaExceededException} naming the cap and the uid. */
    public synchronized Slot take(int uid, boolean admin) {
        if (admin) {
            if (total >= max) {
                throw new QuotaExceededException("all " + max + " " + what + " are open (" + property + ".total=" + max + "); uid " + uid
                        + " is an admin but the reserve is used up too");
            }
        } else {
            int mine = perUidCount.getOrDefault(uid, 0);
            if (mine >= perUid) {
                throw new QuotaExceededException("uid " + uid + " already has " + mine + " open " + what + " (" + property + ".per-uid=" + perUid
                        + "); close one first");
            }
            if (othersTotal >= max - adminReserve) {
                throw new QuotaExceededException("the " + (max - adminReserve) + " " + what + " open to non-admin users are all in use ("
                        + property + ".total=" + max + ", admin-reserve=" + adminReserve + "); uid " + uid + " must wait");
            }
            perUidCount.merge(uid, 1, Integer::sum);
            othersTotal++;
        }
        total++;
        return new Slot(uid, admin);
    }

    public synchronized int open(int uid) {
        return perUidCount.getOrDefault(uid, 0);
    }

    public synchronized int openTotal() {
        return total;
    }

    public int perUid() {
        return perUid;
    }

    public int total() {
        return max;
    }

    public int adminReserve() {
        return adminReserve;
    }
}
