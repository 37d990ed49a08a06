package io.vfiobroker.binding;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * One lock per IOMMU group: changes to one group's bindings serialize, changes to different groups never wait for
 * each other. vfio-pci's unbind does not return while a device fd is open, so a single lock for all groups would let
 * one group whose holder won't let go stop every bind and release of the host.
 */
final class GroupLocks {

    private final ConcurrentMap<Integer, ReentrantLock> locks = new ConcurrentHashMap<>();

    private ReentrantLock lock(int group) {
        return locks.computeIfAbsent(group, g -> new ReentrantLock());
    }

    /** Runs {@code work} holding {@code group}'s lock, waiting for it (never interruptibly: see LeaseEnder#close). */
    <T> T with(int group, Supplier<T> work) {
        ReentrantLock l = lock(group);
        l.lock();
        try {
            return work.get();
        } finally {
            l.unlock();
        }
    }

    /**
     * Runs {@code work} only if no other thread holds {@code group} (this one may already), and says whether it ran.
     * Reconcile uses it: a group another thread is changing is in flight, not left over, and is not waited for.
     */
    boolean ifFree(int group, Runnable work) {
        ReentrantLock l = lock(group);
        if (!l.tryLock()) return false;
        try {
            work.run();
            return true;
        } finally {
            l.unlock();
        }
    }
}
