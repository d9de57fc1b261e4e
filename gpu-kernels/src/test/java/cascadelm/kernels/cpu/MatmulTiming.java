package cascadelm.kernels.cpu;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;

/**
 * Throwaway timing (not a test) of the Llama-3.2-1B matmul shapes, meant to be run alternately against two
 * builds on a loaded machine: every case is timed in several short rounds interleaved with the other cases,
 * and the best and median round are printed. Arguments: {@code types=F16,Q8_0 n=1,128 rounds=7 threads=2
 * shapes=2048x2048,8192x2048}.
 */
public final class MatmulTiming {
    public static void main(String[] args) throws Exception {
        List<TensorType> types = List.of(TensorType.F16, TensorType.Q8_0, TensorType.Q4_0);
        int[] ns = {1, 128};
        int rounds = 7;
        int threads = Runtime.getRuntime().availableProcessors();
        String shapes = "2048x2048,512x2048,8192x2048,2048x8192";
        double copyBytes = 256e6;
        for (String a : args) {
            String[] kv = a.split("=", 2);
            switch (kv[0]) {
                case "types" -> types = Arrays.stream(kv[1].split(",")).map(TensorType::valueOf).toList();
                case "n" -> ns = Arrays.stream(kv[1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "rounds" -> rounds = Integer.parseInt(kv[1]);
                case "threads" -> threads = Integer.parseInt(kv[1]);
                case "shapes" -> shapes = kv[1];
                case "copymb" -> copyBytes = Double.parseDouble(kv[1]) * 1e6; // 0: weights stay in cache
                default -> throw new IllegalArgumentException(a);
            }
        }
        // Decoding streams weights from DRAM (the model is far larger than L3): n = 1 cases cycle through
        // copies of the matrix totalling at least 256 MB, so no call finds its weights in cache.
        record Case(String name, Matrix[] ws, float[] x, float[] out, int n, double bytes, double flops, double[] times) {
        }
        List<Case> cases = new ArrayList<>();
        try (CpuBackend backend = new CpuBackend(threads); Arena arena = Arena.ofShared()) {
            Random r = new Random(1);
            for (String shape : shapes.split(",")) {
                int rows = Integer.parseInt(shape.split("x")[0]);
                int cols = Integer.parseInt(shape.split("x")[1]);
                float[] v = new float[rows * cols];
                for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
                for (TensorType type : types) {
                    Matrix w = Quantizer.matrix(arena, type, v, rows, cols);
                    Matrix[] copies = new Matrix[(int) Math.max(1, Math.ceil(copyBytes / ((double) rows * w.rowBytes())))];
                    for (int i = 0; i < copies.length; i++) {
                        copies[i] = new Matrix(type, arena.allocate(w.data().byteSize(), 64).copyFrom(w.data()), rows, cols);
                    }
                    for (int n : ns) {
                        float[] x = new float[n * cols];
                        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                        cases.add(new Case(String.format("%-5s %6dx%-5d n=%-4d", type, rows, cols, n), n == 1 ? copies : new Matrix[] {w}, x, new float[n * rows], n,
                                (double) rows * w.rowBytes(), 2.0 * rows * cols * n, new double[rounds]));
                    }
                }
            }
            for (int round = -1; round < rounds; round++) { // round -1 warms up
                for (Case c : cases) {
                    // Each round: enough calls for ~0.15 s (at least 3); the best call counts.
                    double best = Double.MAX_VALUE;
                    long end = System.nanoTime() + 150_000_000L;
                    for (int i = 0; i < 3 || System.nanoTime() < end; i++) {
                        long t0 = System.nanoTime();
                        backend.matmul(c.ws[i % c.ws.length], c.x, c.out, c.n);
                        best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                    }
                    if (round >= 0) c.times[round] = best;
                }
            }
        }
        for (Case c : cases) {
            double[] t = c.times.clone();
            Arrays.sort(t);
            double best = t[0], median = t[t.length / 2];
            System.out.printf("%s best %8.3f ms  median %8.3f ms  %6.1f GB/s  %6.1f GFLOP/s (best)%n", c.name, best * 1e3, median * 1e3,
                    c.bytes / best / 1e9, c.flops / best / 1e9);
        }
    }
}
