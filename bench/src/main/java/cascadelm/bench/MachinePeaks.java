package cascadelm.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * What this machine can do at best, measured with the same Java Vector API the kernels use: memory read
 * bandwidth (the decode floor) and the FMA rate (the prefill ceiling), on one thread and on all cores.
 * Each figure is the best of several runs, since the question is "what is attainable", not "what is typical".
 */
public final class MachinePeaks {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final long BUFFER_BYTES = 1L << 30;   // far above any L3, so every load comes from DRAM
    // Many runs: on a shared VM single runs vary by 2× (neighbours, vCPUs landing on one physical core).
    private static final int RUNS = 8;
    // Independent FMA chains per thread: latency (4–5 cycles) × pipes (2) needs ≥ 10 in flight.
    private static final int FMA_CHAINS = 12;
    private static final long FMA_ITERATIONS = 100_000_000;  // ~0.15 s per run: short runs read low (clock ramp, scheduling)

    /** Bandwidths in GB/s (10^9 bytes), FMA rates in GFLOP/s (2 flops per lane per FMA). */
    public record Peaks(int threads, int lanes, double readGBps1, double readGBps, double fmaGflops1, double fmaGflops) {
        /** The better of two measurements, figure by figure. */
        public Peaks max(Peaks o) {
            return new Peaks(threads, lanes, Math.max(readGBps1, o.readGBps1), Math.max(readGBps, o.readGBps),
                    Math.max(fmaGflops1, o.fmaGflops1), Math.max(fmaGflops, o.fmaGflops));
        }

        public String describe() {
            return String.format(Locale.ROOT,
                    "memory read  : %.1f GB/s on 1 thread, %.1f GB/s on %d threads%n"
                            + "vector FMA   : %.1f GFLOP/s on 1 thread, %.1f GFLOP/s on %d threads (%d float lanes)",
                    readGBps1, readGBps, threads, fmaGflops1, fmaGflops, threads, lanes);
        }
    }

    private MachinePeaks() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println(measure(Runtime.getRuntime().availableProcessors()).describe());
    }

    public static Peaks measure(int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(BUFFER_BYTES, 64);
            // Touch every page (and avoid all-zero pages the OS might share) before timing.
            for (long i = 0; i < BUFFER_BYTES; i += 4096) buf.set(ValueLayout.JAVA_FLOAT, i, 1f);
            double read1 = best(() -> readBandwidth(pool, buf, 1));
            double readN = best(() -> readBandwidth(pool, buf, threads));
            double fma1 = best(() -> fmaRate(pool, 1));
            double fmaN = best(() -> fmaRate(pool, threads));
            return new Peaks(threads, S.length(), read1, readN, fma1, fmaN);
        } finally {
            pool.shutdownNow();
        }
    }

    private interface Measurement {
        double run() throws Exception;
    }

    private static double best(Measurement m) throws Exception {
        double best = 0;
        for (int r = 0; r < RUNS + 1; r++) {       // the first run also warms up (JIT, page tables)
            double v = m.run();
            if (r > 0) best = Math.max(best, v);
        }
        return best;
    }

    /** GB/s of reading the whole buffer once, split in contiguous parts, one per thread. */
    private static double readBandwidth(ExecutorService pool, MemorySegment buf, int threads) throws Exception {
        return BandwidthProbe.readGBps(pool, buf, threads);
    }

    /** GFLOP/s of FMA_CHAINS independent fma chains per thread, all threads at once. */
    private static double fmaRate(ExecutorService pool, int threads) throws Exception {
        List<Callable<Float>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) tasks.add(() -> fmaChains(FMA_ITERATIONS));
        long t0 = System.nanoTime();
        float sink = 0;
        for (Future<Float> f : pool.invokeAll(tasks)) sink += f.get();
        long ns = System.nanoTime() - t0;
        if (sink == 42) System.out.print("");
        return 2.0 * S.length() * FMA_CHAINS * FMA_ITERATIONS * threads / ns;
    }

    private static float fmaChains(long iterations) {
        // x ← x·b + c with b < 1 converges to c/(1−b): no overflow, no denormals, nothing to constant-fold.
        FloatVector b = FloatVector.broadcast(S, 0.9999f), c = FloatVector.broadcast(S, 1e-4f);
        FloatVector x0 = FloatVector.broadcast(S, 0.1f), x1 = x0.add(c), x2 = x1.add(c), x3 = x2.add(c);
        FloatVector x4 = x3.add(c), x5 = x4.add(c), x6 = x5.add(c), x7 = x6.add(c);
        FloatVector x8 = x7.add(c), x9 = x8.add(c), x10 = x9.add(c), x11 = x10.add(c);
        for (long i = 0; i < iterations; i++) {
            x0 = x0.fma(b, c); x1 = x1.fma(b, c); x2 = x2.fma(b, c); x3 = x3.fma(b, c);
            x4 = x4.fma(b, c); x5 = x5.fma(b, c); x6 = x6.fma(b, c); x7 = x7.fma(b, c);
            x8 = x8.fma(b, c); x9 = x9.fma(b, c); x10 = x10.fma(b, c); x11 = x11.fma(b, c);
        }
        return x0.add(x1).add(x2).add(x3).add(x4).add(x5).add(x6).add(x7).add(x8).add(x9).add(x10).add(x11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
