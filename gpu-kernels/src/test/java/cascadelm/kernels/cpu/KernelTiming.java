package cascadelm.kernels.cpu;

import java.lang.foreign.Arena;
import java.util.Random;
import java.util.concurrent.atomic.DoubleAdder;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Throwaway timing (not a test): Vector-API FMA peak of this machine, then matmul throughput per weight
 * type for decode (GB/s of weights) and a 128-row batch (GFLOP/s). Arguments: [types...].
 */
public final class KernelTiming {
    public static void main(String[] args) throws Exception {
        int threads = Runtime.getRuntime().availableProcessors();
        System.out.printf("lanes %d, threads %d, FMA peak %.1f GFLOP/s%n", Lanes.L, threads, fmaPeak(threads));
        if (args.length > 0 && args[0].equals("attention")) {
            try (CpuBackend backend = new CpuBackend(threads)) {
                attention(backend, 1, 32, 8, 128, 16384);
                attention(backend, 1, 32, 8, 128, 65536);
                attention(backend, 512, 32, 8, 128, 4096);
                attention(backend, 512, 32, 8, 128, 16384);
            }
            return;
        }
        TensorType[] types = args.length == 0 ? TensorType.values() : java.util.Arrays.stream(args).map(TensorType::valueOf).toArray(TensorType[]::new);
        int[][] shapes = {{2048, 2048}, {8192, 2048}};
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            for (int[] shape : shapes) {
                for (TensorType type : types) {
                    time(backend, arena, type, shape[0], shape[1]);
                }
            }
        }
    }

    private static void time(CpuBackend backend, Arena arena, TensorType type, int rows, int cols) {
        Random r = new Random(1);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        Matrix w = Quantizer.matrix(arena, type, v, rows, cols);
        float[] x = new float[128 * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] out = new float[128 * rows];
        double decode = best(() -> backend.matmul(w, x, out, 1), 0.6);
        double batch = best(() -> backend.matmul(w, x, out, 128), 1.2);
        double bytes = rows * w.rowBytes();
        System.out.printf("%-5s %5d x %5d  n=1: %7.3f ms %6.1f GB/s %6.1f GFLOP/s   n=128: %8.2f ms %6.1f GFLOP/s%n",
                type, rows, cols, decode * 1e3, bytes / decode / 1e9, 2.0 * rows * cols / decode / 1e9,
                batch * 1e3, 2.0 * rows * cols * 128 / batch / 1e9);
    }

    private static void attention(CpuBackend backend, int nQ, int nHeads, int nKv, int headDim, int nKeys) {
        Random r = new Random(2);
        float[] q = new float[nQ * nHeads * headDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian();
        float[][] k = new float[nKv][nKeys * headDim];
        float[][] v = new float[nKv][nKeys * headDim];
        for (int h = 0; h < nKv; h++) {
            for (int i = 0; i < k[h].length; i++) {
                k[h][i] = (float) r.nextGaussian();
                v[h][i] = (float) r.nextGaussian();
            }
        }
        float[] out = new float[q.length];
        float[] w = new float[nQ];
        java.util.Arrays.fill(w, 1f);
        cascadelm.kernels.AttentionScores scores = new cascadelm.kernels.AttentionScores(w, w, new float[nHeads * nKeys]);
        double s = best(() -> backend.attention(q, nQ, nHeads, nKv, headDim, k, v, nKeys, 0.088f, out, scores), 2);
        double visible = (double) nQ * (nKeys - nQ) + (double) nQ * (nQ + 1) / 2;
        double flops = 4.0 * nHeads * headDim * visible;
        System.out.printf("attention nQ=%d heads=%d/%d d=%d keys=%d: %.2f ms, %.1f GFLOP/s, KV %.1f GB/s%n", nQ, nHeads, nKv,
                headDim, nKeys, s * 1e3, flops / s / 1e9, 8.0 * nKv * nKeys * headDim / s / 1e9);
    }

    /** Best wall time of repeated runs within roughly {@code seconds}, after a warm-up of the same length. */
    private static double best(Runnable run, double seconds) {
        double best = Double.MAX_VALUE;
        for (int phase = 0; phase < 2; phase++) {
            long end = System.nanoTime() + (long) (seconds * 1e9);
            while (System.nanoTime() < end) {
                long t0 = System.nanoTime();
                run.run();
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
        }
        return best;
    }

    /** Eight independent FMA chains per thread on register-resident vectors. */
    private static double fmaPeak(int threads) throws InterruptedException {
        DoubleAdder flops = new DoubleAdder();
        double best = 0;
        for (int round = 0; round < 4; round++) {
            Thread[] ts = new Thread[threads];
            long t0 = System.nanoTime();
            for (int t = 0; t < threads; t++) {
                ts[t] = new Thread(() -> flops.add(fmaLoop(50_000_000)));
                ts[t].start();
            }
            for (Thread t : ts) t.join();
            double s = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, flops.sumThenReset() / s / 1e9);
        }
        return best;
    }

    private static double fmaLoop(int iterations) {
        FloatVector m = FloatVector.broadcast(Lanes.F, 0.999999f), a = FloatVector.broadcast(Lanes.F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(Lanes.F, 1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < iterations; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a);
            c4 = c4.fma(m, a); c5 = c5.fma(m, a); c6 = c6.fma(m, a); c7 = c7.fma(m, a);
            c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
        }
        float sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
        if (sink == 42) System.out.print("");
        return 12.0 * 2 * Lanes.L * iterations;
    }
}
