package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;

import java.lang.foreign.MemorySegment;

import cascadelm.kernels.Matrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code out[t, r] = Σ_c w[r, c] · x[t, c]}. One token row (decoding) streams each weight row once through
 * {@link RowKernel#dot}, parallel over rows: memory-bound. Several token rows (prefill) decode a tile of
 * weight rows × columns to float32 once per worker and multiply it against every token row from cache,
 * with a 4 × 4 register tile of accumulators: compute-bound.
 */
final class Matmul {
    /** Weight rows per task; a multiple of the 4-row register tile. */
    static final int ROW_TILE = 16;
    /** Columns per decoded tile: a multiple of 256 (the largest block) sized so the tile stays in L2. */
    static final int COL_TILE = 1024;

    private final ParallelFor parallel;
    private final float[][] tiles;

    Matmul(ParallelFor parallel) {
        this.parallel = parallel;
        this.tiles = new float[parallel.threads()][ROW_TILE * COL_TILE];
    }

    void run(Matrix w, float[] x, float[] out, int n) {
        if (x.length < (long) n * w.cols() || out.length < (long) n * w.rows()) {
            throw new IllegalArgumentException("matmul of " + n + " rows needs x of " + (long) n * w.cols()
                    + " and out of " + (long) n * w.rows() + " floats");
        }
        RowKernel kernel = RowKernel.of(w.type());
        if (n == 1) {
            decode(kernel, w, x, out);
        } else {
            batched(kernel, w, x, out, n);
        }
    }

    private void decode(RowKernel kernel, Matrix w, float[] x, float[] out) {
        int rows = w.rows();
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        MemorySegment data = w.data();
        // Several chunks per worker balance uneven progress; more would only add claiming overhead.
        int chunk = Math.max(1, rows / (parallel.threads() * 8));
        parallel.run((rows + chunk - 1) / chunk, (task, worker) -> {
            int end = Math.min(rows, (task + 1) * chunk);
            for (int r = task * chunk; r < end; r++) {
                out[r] = kernel.dot(data, r * rowBytes, x, 0, cols);
            }
        });
    }

    private void batched(RowKernel kernel, Matrix w, float[] x, float[] out, int n) {
        int rows = w.rows();
        parallel.run((rows + ROW_TILE - 1) / ROW_TILE, (task, worker) -> {
            int r0 = task * ROW_TILE;
            rowTile(kernel, w, x, out, n, r0, Math.min(ROW_TILE, rows - r0), tiles[worker]);
        });
    }

    private static void rowTile(RowKernel kernel, Matrix w, float[] x, float[] out, int n, int r0, int rt, float[] tile) {
        int rows = w.rows();
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        for (int t = 0; t < n; t++) {
            java.util.Arrays.fill(out, t * rows + r0, t * rows + r0 + rt, 0f);
        }
        for (int k0 = 0; k0 < cols; k0 += COL_TILE) {
            int kc = Math.min(COL_TILE, cols - k0);
            for (int r = 0; r < rt; r++) {
                kernel.dequantize(w.data(), (r0 + r) * rowBytes, k0, k0 + kc, tile, r * kc);
            }
            int kv = kc - kc % L;
            int t = 0;
            for (; t + 4 <= n; t += 4) {
                int r = 0;
                for (; r + 4 <= rt; r += 4) {
                    tile4x4(tile, r * kc, kc, kv, x, t * cols + k0, cols, out, t * rows + r0 + r, rows);
                }
                for (; r < rt; r++) {
                    for (int tt = t; tt < t + 4; tt++) {
                        out[tt * rows + r0 + r] += dot(tile, r * kc, x, tt * cols + k0, kv);
                    }
                }
            }
            for (; t < n; t++) {
                int r = 0;
                for (; r + 4 <= rt; r += 4) {
                    tile4x1(tile, r * kc, kc, kv, x, t * cols + k0, out, t * rows + r0 + r);
                }
                for (; r < rt; r++) {
                    out[t * rows + r0 + r] += dot(tile, r * kc, x, t * cols + k0, kv);
                }
            }
            if (kv < kc) {
                for (t = 0; t < n; t++) {
                    for (int r = 0; r < rt; r++) {
                        float s = 0;
                        for (int k = kv; k < kc; k++) {
                            s += tile[r * kc + k] * x[t * cols + k0 + k];
                        }
                        out[t * rows + r0 + r] += s;
                    }
                }
            }
        }
    }

    /** Four weight rows (stride kc) × four token rows (stride xs) over [0, kv), added to out (stride os). */
    private static void tile4x4(float[] w, int w0, int kc, int kv, float[] x, int x0, int xs, float[] out, int o0, int os) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        int x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
        for (int k = 0; k < kv; k += L) {
            FloatVector a0 = FloatVector.fromArray(F, w, w0 + k);
            FloatVector a1 = FloatVector.fromArray(F, w, w1 + k);
            FloatVector a2 = FloatVector.fromArray(F, w, w2 + k);
            FloatVector a3 = FloatVector.fromArray(F, w, w3 + k);
            FloatVector b = FloatVector.fromArray(F, x, x0 + k);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            c20 = a2.fma(b, c20);
            c30 = a3.fma(b, c30);
            b = FloatVector.fromArray(F, x, x1 + k);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            c21 = a2.fma(b, c21);
            c31 = a3.fma(b, c31);
            b = FloatVector.fromArray(F, x, x2 + k);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            c22 = a2.fma(b, c22);
            c32 = a3.fma(b, c32);
            b = FloatVector.fromArray(F, x, x3 + k);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
            c23 = a2.fma(b, c23);
            c33 = a3.fma(b, c33);
        }
        addSums(out, o0, c00, c10, c20, c30);
        addSums(out, o0 + os, c01, c11, c21, c31);
        addSums(out, o0 + 2 * os, c02, c12, c22, c32);
        addSums(out, o0 + 3 * os, c03, c13, c23, c33);
    }

    /** Four weight rows × one token row. */
    private static void tile4x1(float[] w, int w0, int kc, int kv, float[] x, int x0, float[] out, int o0) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        for (int k = 0; k < kv; k += L) {
            FloatVector b = FloatVector.fromArray(F, x, x0 + k);
            c0 = FloatVector.fromArray(F, w, w0 + k).fma(b, c0);
            c1 = FloatVector.fromArray(F, w, w1 + k).fma(b, c1);
            c2 = FloatVector.fromArray(F, w, w2 + k).fma(b, c2);
            c3 = FloatVector.fromArray(F, w, w3 + k).fma(b, c3);
        }
        addSums(out, o0, c0, c1, c2, c3);
    }

    private static float dot(float[] w, int w0, float[] x, int x0, int kv) {
        FloatVector c = FloatVector.zero(F);
        for (int k = 0; k < kv; k += L) {
            c = FloatVector.fromArray(F, w, w0 + k).fma(FloatVector.fromArray(F, x, x0 + k), c);
        }
        return c.reduceLanes(VectorOperators.ADD);
    }

    private static void addSums(float[] out, int o, FloatVector c0, FloatVector c1, FloatVector c2, FloatVector c3) {
        out[o] += c0.reduceLanes(VectorOperators.ADD);
        out[o + 1] += c1.reduceLanes(VectorOperators.ADD);
        out[o + 2] += c2.reduceLanes(VectorOperators.ADD);
        out[o + 3] += c3.reduceLanes(VectorOperators.ADD);
    }
}
