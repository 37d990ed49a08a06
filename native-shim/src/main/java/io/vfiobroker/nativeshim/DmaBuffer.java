package io.vfiobroker.nativeshim;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

/** Anonymous private memory (mmap), e.g. a DMA buffer to map into a {@link DmaBackend}; unmapped on close. */
public final class DmaBuffer implements AutoCloseable {
    private final Pointer address;
    private final long size;
    private boolean closed;

    private DmaBuffer(Pointer address, long size) {
        this.address = address;
        this.size = size;
    }

    /** Maps {@code size} bytes (rounded up to pages by the kernel), zero-filled, read-write. */
    public static DmaBuffer allocate(long size) {
        PointerByReference out = new PointerByReference();
        NativeException.check(Shim.vb_mmap_anon(size, out), "mmap", size + " bytes");
        return new DmaBuffer(out.getValue(), size);
    }

    /** The virtual address, as {@code vaddr} for {@link DmaBackend#map}. */
    public long address() {
        return Pointer.nativeValue(address);
    }

    /** The mapping as a JNA pointer, to read and write its bytes. */
    public Pointer pointer() {
        return address;
    }

    /** The size asked for. */
    public long size() {
        return size;
    }

    /** mlock(2): pins the pages and counts them in VmLck (against RLIMIT_MEMLOCK). */
    public void lock() {
        NativeException.check(Shim.vb_mlock(address, size), "mlock", size + " bytes");
    }

    /** munlock(2). */
    public void unlock() {
        NativeException.check(Shim.vb_munlock(address, size), "munlock", size + " bytes");
    }

    /** Unmaps the memory; using {@link #pointer()} afterwards would crash, so don't. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            NativeException.check(Shim.vb_munmap(address, size), "munmap", size + " bytes");
        }
    }
}
