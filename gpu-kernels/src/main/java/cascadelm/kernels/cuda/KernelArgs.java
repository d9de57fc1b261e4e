package cascadelm.kernels.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The argument block of one kernel launch, reused launch after launch: a slot of 8 bytes per argument and
 * the array of pointers to those slots that cuLaunchKernel takes. Arguments are appended in the kernel's
 * parameter order; {@link #reset} starts the next launch.
 */
public final class KernelArgs {
    static final int MAX_ARGS = 32;
    private final MemorySegment values;
    private final MemorySegment pointers;
    private int count;

    KernelArgs(Arena arena) {
        values = arena.allocate(8L * MAX_ARGS, 8);
        pointers = arena.allocate(ADDRESS.byteSize() * MAX_ARGS, 8);
        for (int i = 0; i < MAX_ARGS; i++) pointers.setAtIndex(ADDRESS, i, values.asSlice(8L * i, 8));
    }

    KernelArgs reset() {
        count = 0;
        return this;
    }

    private long next() {
        if (count == MAX_ARGS) throw new IllegalStateException("more than " + MAX_ARGS + " kernel arguments");
        return 8L * count++;
    }

    /** A device pointer (or any 64-bit integer). */
    public KernelArgs ptr(long address) {
        values.set(JAVA_LONG, next(), address);
        return this;
    }

    public KernelArgs ptr(DeviceBuffer b) {
        return ptr(b == null ? 0L : b.address());
    }

    public KernelArgs i32(int v) {
        values.set(JAVA_INT, next(), v);
        return this;
    }

    public KernelArgs i64(long v) {
        values.set(JAVA_LONG, next(), v);
        return this;
    }

    public KernelArgs f32(float v) {
        values.set(JAVA_FLOAT, next(), v);
        return this;
    }

    MemorySegment pointers() {
        return pointers;
    }
}
