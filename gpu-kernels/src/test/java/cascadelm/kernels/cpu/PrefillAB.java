package cascadelm.kernels.cpu;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;

/**
 * Throwaway timing (not a test): the prefill matmul through the 4 × 4-tile path ({@link Matmul#runBatched})
 * against {@link Matmul#run} (the broadcast kernel from {@link Matmul#WIDE} tokens) in one JVM, rounds
 * interleaved so both see the same machine load. Arguments: {@code rows cols rounds threads} (default
 * 2048 8192 7 all cores), types F16 and Q8_0, n = 128 and 512. Prints best and median per path and the
 * ratio of medians, after checking that both paths agree.
 */
public final class PrefillAB {
    public static void main(String[] args) {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 2048;
        int cols = args.length > 1 ? Integer.parseInt(args[1]) : 8192;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : Runtime.getRuntime().availableProcessors();
        System.out.printf("float lanes L=%d, threads=%d, %dx%d%n", Lanes.L, threads, rows, cols);
        Random r = new Random(1);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        try (ParallelFor parallel = new ParallelFor(threads); Arena arena = Arena.ofShared()) {
            Matmul matmul = new Matmul(parallel, true);
            for (TensorType type : new TensorType[] {TensorType.F16, TensorType.Q8_0}) {
                Matrix w = Quantizer.matrix(arena, type, v, rows, cols);
                for (int n : new int[] {128, 512}) {
                    float[] x = new float[n * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                    float[] outOld = new float[n * rows], outNew = new float[n * rows];
                    double[] old = new double[rounds], neu = new double[rounds];
                    for (int round = -1; round < rounds; round++) { // round -1 warms up
                        double o = time(() -> matmul.runBatched(w, x, outOld, n));
                        double nw = time(() -> matmul.run(w, x, outNew, n));
                        if (round >= 0) {
                            old[round] = o;
                            neu[round] = nw;
                        }
                    }
                    double maxDiff = 0, maxAbs = 0;
                    for (int i = 0; i < outOld.length; i++) {
                        maxDiff = Math.max(maxDiff, Math.abs(outOld[i] - outNew[i]));
                        maxAbs = Math.max(maxAbs, Math.abs(outOld[i]));
                    }
                    if (maxDiff > 1e-4 * maxAbs) throw new AssertionError(type + " n=" + n + ": paths differ by " + maxDiff);
                    Arrays.sort(old);
                    Arrays.sort(neu);
                    double flops = 2.0 * rows * cols * n;
                    System.out.printf("%-5s n=%-4d batched best %8.2f ms med %8.2f ms (%5.1f GFLOP/s) | broadcast best %8.2f ms med %8.2f ms (%5.1f GFLOP/s) | speedup (median) %.2fx%n",
                            type, n, old[0] * 1e3, old[rounds / 2] * 1e3, flops / old[rounds / 2] / 1e9, neu[0] * 1e3,
                            neu[rounds / 2] * 1e3, flops / neu[rounds / 2] / 1e9, old[rounds / 2] / neu[rounds / 2]);
                }
            }
        }
    }

    /** Best of a few calls (at least 2, ~0.3 s): the machine is shared, so one call may be slowed by others. */
    private static double time(Runnable call) {
        double best = Double.MAX_VALUE;
        long end = System.nanoTime() + 300_000_000L;
        for (int i = 0; i < 2 || System.nanoTime() < end; i++) {
            long t0 = System.nanoTime();
            call.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }
}
