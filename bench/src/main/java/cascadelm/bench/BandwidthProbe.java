package cascadelm.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The memory read bandwidth available right now: one read of a buffer far larger than any cache, split
 * among a fixed number of threads. The host is shared, and what it leaves us varies 2× within minutes
 * (25-51 GB/s in four samples on 2026-12-07), so a decode step is set against a probe taken right beside it
 * rather than against the best of a few samples taken minutes apart ({@link EngineBenchmark}, {@link DecodeAB}).
 */
public final class BandwidthProbe implements AutoCloseable {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** 512 MB: 16× the L3 of the machines we run on, about 10-20 ms to read, short beside a decode step. */
    public static final long PROBE_BYTES = 512L << 20;

    private final int threads;
    private final ExecutorService pool;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;

    public BandwidthProbe(int threads) {
        this(threads, PROBE_BYTES);
    }

    BandwidthProbe(int threads, long bytes) {
        if (threads < 1) throw new IllegalArgumentException("a bandwidth probe needs at least one thread, got " + threads);
        this.threads = threads;
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "bandwidth-probe");
            t.setDaemon(true);
            return t;
        });
        buffer = arena.allocate(bytes, 64);
        // Touch every page (and avoid all-zero pages the OS might share) before timing.
        for (long i = 0; i < bytes; i += 4096) buffer.set(ValueLayout.JAVA_FLOAT, i, 1f);
    }

    /** GB/s (10^9 bytes) of one read of the whole buffer on this probe's threads. */
    public double readGBps() throws Exception {
        return readGBps(pool, buffer, threads);
    }

    /** GB/s of reading {@code buf} once, split in contiguous parts, one per thread of {@code pool}. */
    static double readGBps(ExecutorService pool, MemorySegment buf, int threads) throws Exception {
        long part = buf.byteSize() / threads / S.vectorByteSize() * S.vectorByteSize();
        List<Callable<Float>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            MemorySegment slice = buf.asSlice(t * part, part);
            tasks.add(() -> sum(slice));
        }
        long t0 = System.nanoTime();
        float sink = 0;
        for (Future<Float> f : pool.invokeAll(tasks)) sink += f.get();
        long ns = System.nanoTime() - t0;
        if (sink == 42) System.out.print("");      // keeps the sums live
        return part * threads / (double) ns;
    }

    private static float sum(MemorySegment seg) {
        // Four accumulators so the add latency never limits the loads.
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        long step = S.vectorByteSize();
        long end = seg.byteSize() - 4 * step;
        long i = 0;
        for (; i <= end; i += 4 * step) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, seg, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(S, seg, i + step, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(S, seg, i + 2 * step, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(S, seg, i + 3 * step, ByteOrder.LITTLE_ENDIAN));
        }
        for (; i < seg.byteSize(); i += step) {
            a0 = a0.add(FloatVector.fromMemorySegment(S, seg, i, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void close() {
        pool.shutdownNow();
        arena.close();
    }
}
