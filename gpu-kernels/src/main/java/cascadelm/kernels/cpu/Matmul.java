package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code out[t, r] = Σ_c w[r, c] · x[t, c]}, on the weights in their CPU layout ({@link PackedMatrix}: column
 * panels of at most 2048, Q4_0 re-laid). One token row (decoding) streams each weight row once through
 * {@link RowKernel#decodeDot}, panel by panel, parallel over rows: memory-bound. A few token rows decode a tile of weight rows ×
 * columns to float32 once per worker and multiply it against every token row with a 4 × 4 register tile of
 * dot products. Many token rows (prefill, {@code n >= WIDE}) run a broadcast kernel: x is transposed once so
 * that the lanes of a vector are 16 tokens, each decoded weight is broadcast and multiplied into 8 rows × 32
 * tokens of accumulators; no lane reductions, and each decoded panel of 64 rows × 256 columns serves up to
 * 512 tokens: compute-bound. With 8 lanes (AVX2, 16 vector registers) the same 32-token blocks of xt feed a
 * 6 (or 4) rows × 16 tokens tile instead ({@link #panel8}); the 16-lane code is untouched.
 *
 * <p>Q4_0 decodes differently: x is quantized to 8-bit blocks once per product ({@link Int8Activations}) and
 * multiplied with the weights in 16-bit integers, a group of rows per vector ({@link Q4_0Groups}). Its
 * batched products use the GGUF layout in place, as every other type's do where it needs no panels.
 */
final class Matmul {
    /** Weight rows per task; a multiple of the 4-row register tile. */
    static final int ROW_TILE = 16;
    /** Columns per decoded tile: a multiple of 256 (the largest block) sized so the tile stays in L2. */
    static final int COL_TILE = 1024;

    /** Token rows from which the broadcast kernel runs. */
    static final int WIDE = 16;
    /** Weight rows per broadcast task: x is read once per panel, so 64 rows give 32 FLOPs per byte of x. */
    static final int PANEL = 64;
    /** Columns per decoded panel (a multiple of 256): 64 × 256 floats, 64 KB, stay in L2. */
    static final int KC = 256;
    /** Tokens per pass of the broadcast kernel, bounding the transposed x and the accumulators. */
    static final int TOKENS = 512;
    /** Rows of the broadcast register tile. */
    static final int MR = 8;
    /** Tokens per block of the transposed x: two 16-lane or four 8-lane vectors. */
    static final int BLOCK = 32;
    /** Rows of the 8-lane (AVX2) register tile: 4 rows × 16 tokens, 8 accumulators of its 16 registers. */
    static final int MR8 = 4;

    private final ParallelFor parallel;
    private final float[][] tiles;
    private final float[][] panels;
    private final float[][] sums;
    private final float[][] groupSums;
    private final Int8Activations activations = new Int8Activations();
    /** Whether Q4_0 decodes in {@link Q4_0Groups} with 8-bit activations (else in float32, GGUF layout). */
    private final boolean int8Activations;
    private float[] xt = new float[0];
    private final Map<MemorySegment.Scope, Map<PackKey, PackedMatrix>> packs = new WeakHashMap<>();

    Matmul(ParallelFor parallel, boolean int8Activations) {
        this.parallel = parallel;
        this.int8Activations = int8Activations;
        this.tiles = new float[parallel.threads()][ROW_TILE * COL_TILE];
        this.panels = new float[parallel.threads()][PANEL * KC];
        this.sums = new float[parallel.threads()][0];
        this.groupSums = new float[parallel.threads()][Q4_0Groups.G];
    }

    void run(Matrix w, float[] x, float[] out, int n) {
        check(w, x, out, n);
        PackedMatrix p = packed(w);
        if (n == 1) {
            decode(new PackedMatrix[] {p}, x, new float[][] {out});
            return;
        }
        if (p.grouped) {
            p = PackedMatrix.inPlace(w);
        }
        if (n >= WIDE && (L == 16 || L == 8)) {
            for (int t0 = 0; t0 < n; t0 += TOKENS) {
                wide(p, x, out, t0, Math.min(TOKENS, n - t0));
            }
        } else {
            batched(p, x, out, n);
        }
    }

    /**
     * {@code outs[i] = ws[i] · x}, the matrices having the same column count. Decoding runs all of them as one
     * parallel job (one hand-off to the workers, and no worker idles at the end of a small product while
     * another finishes); otherwise they run one after the other.
     */
    void runAll(Matrix[] ws, float[] x, float[][] outs, int n) {
        if (ws.length != outs.length) {
            throw new IllegalArgumentException(ws.length + " matrices but " + outs.length + " outputs");
        }
        for (int i = 0; i < ws.length; i++) {
            check(ws[i], x, outs[i], n);
            if (ws[i].cols() != ws[0].cols()) {
                throw new IllegalArgumentException("products of one input need one column count: " + ws[0].cols() + " and " + ws[i].cols());
            }
        }
        if (n != 1) {
            for (int i = 0; i < ws.length; i++) {
                run(ws[i], x, outs[i], n);
            }
            return;
        }
        PackedMatrix[] ps = new PackedMatrix[ws.length];
        for (int i = 0; i < ws.length; i++) {
            ps[i] = packed(ws[i]);
        }
        decode(ps, x, outs);
    }

    private static void check(Matrix w, float[] x, float[] out, int n) {
        if (x.length < (long) n * w.cols() || out.length < (long) n * w.rows()) {
            throw new IllegalArgumentException("matmul of " + n + " rows needs x of " + (long) n * w.cols()
                    + " and out of " + (long) n * w.rows() + " floats");
        }
    }

    /**
     * The CPU layout of w ({@link PackedMatrix}), copied on its first product and kept while w's memory is
     * alive. Keyed by the memory's scope and address, not by the Matrix object, so that a closed model's
     * copies go with it and memory later mapped at the same address is never mistaken for it. If the copy
     * cannot be allocated, w is used in its GGUF layout (slower, same results).
     */
    private PackedMatrix packed(Matrix w) {
        if (!PackedMatrix.copies(w, int8Activations)) {
            return PackedMatrix.inPlace(w);
        }
        MemorySegment data = w.data();
        Map<PackKey, PackedMatrix> ofScope = packs.computeIfAbsent(data.scope(), s -> new HashMap<>());
        PackKey key = new PackKey(w.type(), data.address(), data.byteSize(), w.rows(), w.cols());
        PackedMatrix p = ofScope.get(key);
        if (p == null) {
            try {
                p = PackedMatrix.of(w, PackedMatrix.PANEL_COLS, int8Activations);
            } catch (OutOfMemoryError e) {
                p = PackedMatrix.inPlace(w);
            }
            ofScope.put(key, p);
        }
        return p;
    }

    /** What identifies a matrix within its memory's scope; no reference to the memory, so the scope can be collected. */
    private record PackKey(TensorType type, long address, long bytes, int rows, int cols) {
    }

    /**
     * Decoding products of one x, as one parallel job: each matrix is cut into chunks of rows (Q4_0: of row
     * groups), several per worker to balance uneven progress (more would only add claiming overhead), and the
     * workers claim the chunks of all the matrices in turn. Q4_0 quantizes x once for all.
     */
    private void decode(PackedMatrix[] ws, float[] x, float[][] outs) {
        int[] first = new int[ws.length + 1];
        boolean grouped = false;
        for (int i = 0; i < ws.length; i++) {
            first[i + 1] = first[i] + (units(ws[i]) + chunk(ws[i]) - 1) / chunk(ws[i]);
            grouped |= ws[i].grouped;
        }
        if (grouped) {
            activations.quantize(x, 0, ws[0].cols);
        }
        parallel.run(first[ws.length], (task, worker) -> {
            int i = 0;
            while (task >= first[i + 1]) {
                i++;
            }
            PackedMatrix w = ws[i];
            int start = (task - first[i]) * chunk(w), end = Math.min(units(w), start + chunk(w));
            if (w.grouped) {
                decodeGroups(w, outs[i], start, end, worker);
            } else {
                decodeRows(w, x, outs[i], start, end, worker);
            }
        });
    }

    /** What decoding cuts into chunks: rows, or Q4_0 groups of rows. */
    private static int units(PackedMatrix w) {
        return w.grouped ? w.groups() : w.rows;
    }

    private int chunk(PackedMatrix w) {
        return Math.max(1, units(w) / (parallel.threads() * 8));
    }

    /** Rows [start, end) through {@link RowKernel#decodeDot}, panel by panel. */
    private void decodeRows(PackedMatrix w, float[] x, float[] out, int start, int end, int worker) {
        RowKernel kernel = w.kernel;
        MemorySegment data = w.data;
        float[] scratch = tiles[worker]; // ROW_TILE × COL_TILE floats: more than RowKernel.SCRATCH
        // out is zeroed first so that every panel adds: the row loop stays one plain loop.
        java.util.Arrays.fill(out, start, end, 0f);
        for (int panel = 0, panels = w.panels(); panel < panels; panel++) {
            int x0 = panel * w.panelCols, width = w.panelWidth(panel);
            long base = w.segment(0, panel), rowBytes = w.segment(1, panel) - base;
            for (int r = start; r < end; r++) {
                out[r] += kernel.decodeDot(data, base + r * rowBytes, x, x0, width, scratch);
            }
        }
    }

    /** Q4_0 groups [start, end) with the quantized x: each group's panels are one stream. */
    private void decodeGroups(PackedMatrix w, float[] out, int start, int end, int worker) {
        int g = Q4_0Groups.G;
        float[] scratch = tiles[worker]; // ROW_TILE × COL_TILE floats: at least a panel's scales of a group
        float[] sum = groupSums[worker];
        for (int group = start; group < end; group++) {
            java.util.Arrays.fill(sum, 0f);
            for (int panel = 0, panels = w.panels(); panel < panels; panel++) {
                Q4_0Groups.dot(w.data, w.groupSegment(group, panel), w.panelWidth(panel) / 32, activations,
                        panel * w.panelCols / 32, scratch, sum, 0);
            }
            System.arraycopy(sum, 0, out, group * g, Math.min(g, w.rows - group * g));
        }
    }

    private void batched(PackedMatrix w, float[] x, float[] out, int n) {
        int rows = w.rows;
        parallel.run((rows + ROW_TILE - 1) / ROW_TILE, (task, worker) -> {
            int r0 = task * ROW_TILE;
            rowTile(w, x, out, n, r0, Math.min(ROW_TILE, rows - r0), tiles[worker]);
        });
    }

    /** Token rows [t0, t0 + nt) through the broadcast kernel. */
    private void wide(PackedMatrix w, float[] x, float[] out, int t0, int nt) {
        int rows = w.rows;
        int cols = w.cols;
        int np = (nt + L - 1) / L * L;
        if (xt.length < cols * np) {
            xt = new float[cols * np];
        }
        float[] xt = this.xt;
        // x transposed to xt[c · np + t], tokens past nt zero; in column blocks so writes stay in L1.
        int cb = 64;
        parallel.run((cols + cb - 1) / cb, (task, worker) -> transpose(x, t0, nt, cols, xt, np, task * cb, Math.min(cols, task * cb + cb)));
        int panelsCount = (rows + PANEL - 1) / PANEL;
        parallel.run(panelsCount, (task, worker) -> {
            if (sums[worker].length < PANEL * np) {
                sums[worker] = new float[PANEL * np];
            }
            int r0 = task * PANEL;
            if (L == 16) {
                panel(w, xt, np, out, t0, nt, r0, Math.min(PANEL, rows - r0), panels[worker], sums[worker]);
            } else {
                panel8(w, xt, np, out, t0, nt, r0, Math.min(PANEL, rows - r0), panels[worker], sums[worker]);
            }
        });
    }

    /** The 4 × 4-tile path whatever n is: package-private so timings can set it beside the broadcast kernel. */
    void runBatched(Matrix w, float[] x, float[] out, int n) {
        PackedMatrix p = packed(w);
        batched(p.grouped ? PackedMatrix.inPlace(w) : p, x, out, n);
    }

    /**
     * x[t0 + t, c] to xt in blocks of 32 tokens (the last may hold fewer, a multiple of L): block b starts at b · 32 · cols and
     * holds column c's tokens contiguously at c · width, so the kernel reads one block sequentially rather
     * than at a power-of-two stride that maps every row to the same few L1 sets. Tokens past nt are zero.
     */
    private static void transpose(float[] x, int t0, int nt, int cols, float[] xt, int np, int c0, int c1) {
        for (int t = 0; t < np; t++) {
            int tb = t - t % BLOCK;
            int width = Math.min(BLOCK, np - tb);
            int base = tb * cols + t - tb;
            if (t < nt) {
                int from = (t0 + t) * cols;
                for (int c = c0; c < c1; c++) {
                    xt[base + c * width] = x[from + c];
                }
            } else {
                for (int c = c0; c < c1; c++) {
                    xt[base + c * width] = 0f;
                }
            }
        }
    }

    /** Weight rows [r0, r0 + rt) against the np transposed token columns of xt. */
    private static void panel(PackedMatrix w, float[] xt, int np, float[] out, int t0, int nt, int r0, int rt,
                              float[] tile, float[] acc) {
        int rows = w.rows;
        int cols = w.cols;
        int rp = (rt + MR - 1) / MR * MR; // rows padded to the register tile; padding rows decode as zeros
        java.util.Arrays.fill(acc, 0, rp * np, 0f);
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kc = Math.min(KC, cols - k0);
            for (int r = 0; r < rt; r++) {
                w.dequantize(r0 + r, k0, k0 + kc, tile, r * kc);
            }
            java.util.Arrays.fill(tile, rt * kc, rp * kc, 0f);
            int t = 0;
            for (; t + 2 * L <= np; t += 2 * L) {
                for (int r = 0; r < rp; r += MR) {
                    kernel8x2(tile, r * kc, kc, xt, t * cols + k0 * 2 * L, acc, r * np + t, np);
                }
            }
            if (t < np) {
                for (int r = 0; r < rp; r += MR) {
                    kernel8x1(tile, r * kc, kc, xt, t * cols + k0 * L, acc, r * np + t, np);
                }
            }
        }
        for (int t = 0; t < nt; t++) { // contiguous runs of out; acc is small enough for L1/L2
            int o = (t0 + t) * rows + r0;
            for (int r = 0; r < rt; r++) {
                out[o + r] = acc[r * np + t];
            }
        }
    }

    /**
     * acc[a0 + r · as + t] += Σ_k w[w0 + r · kc + k] · xt[x0 + 32 · k + t] for 8 rows r and 32 tokens t: 16
     * accumulators, two token vectors loaded and eight weights broadcast per column.
     */
    private static void kernel8x2(float[] w, int w0, int kc, float[] xt, int x0, float[] acc, int a0, int as) {
        FloatVector c00 = FloatVector.fromArray(F, acc, a0), c01 = FloatVector.fromArray(F, acc, a0 + L);
        FloatVector c10 = FloatVector.fromArray(F, acc, a0 + as), c11 = FloatVector.fromArray(F, acc, a0 + as + L);
        FloatVector c20 = FloatVector.fromArray(F, acc, a0 + 2 * as), c21 = FloatVector.fromArray(F, acc, a0 + 2 * as + L);
        FloatVector c30 = FloatVector.fromArray(F, acc, a0 + 3 * as), c31 = FloatVector.fromArray(F, acc, a0 + 3 * as + L);
        FloatVector c40 = FloatVector.fromArray(F, acc, a0 + 4 * as), c41 = FloatVector.fromArray(F, acc, a0 + 4 * as + L);
        FloatVector c50 = FloatVector.fromArray(F, acc, a0 + 5 * as), c51 = FloatVector.fromArray(F, acc, a0 + 5 * as + L);
        FloatVector c60 = FloatVector.fromArray(F, acc, a0 + 6 * as), c61 = FloatVector.fromArray(F, acc, a0 + 6 * as + L);
        FloatVector c70 = FloatVector.fromArray(F, acc, a0 + 7 * as), c71 = FloatVector.fromArray(F, acc, a0 + 7 * as + L);
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc, w4 = w3 + kc, w5 = w4 + kc, w6 = w5 + kc, w7 = w6 + kc;
        for (int k = 0, xk = x0; k < kc; k++, xk += 2 * L) {
            FloatVector b0 = FloatVector.fromArray(F, xt, xk);
            FloatVector b1 = FloatVector.fromArray(F, xt, xk + L);
            FloatVector a = FloatVector.broadcast(F, w[w0 + k]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(F, w[w1 + k]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(F, w[w2 + k]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(F, w[w3 + k]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            a = FloatVector.broadcast(F, w[w4 + k]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            a = FloatVector.broadcast(F, w[w5 + k]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
            a = FloatVector.broadcast(F, w[w6 + k]);
            c60 = b0.fma(a, c60);
            c61 = b1.fma(a, c61);
            a = FloatVector.broadcast(F, w[w7 + k]);
            c70 = b0.fma(a, c70);
            c71 = b1.fma(a, c71);
        }
        c00.intoArray(acc, a0);
        c01.intoArray(acc, a0 + L);
        c10.intoArray(acc, a0 + as);
        c11.intoArray(acc, a0 + as + L);
        c20.intoArray(acc, a0 + 2 * as);
        c21.intoArray(acc, a0 + 2 * as + L);
        c30.intoArray(acc, a0 + 3 * as);
        c31.intoArray(acc, a0 + 3 * as + L);
        c40.intoArray(acc, a0 + 4 * as);
        c41.intoArray(acc, a0 + 4 * as + L);
        c50.intoArray(acc, a0 + 5 * as);
        c51.intoArray(acc, a0 + 5 * as + L);
        c60.intoArray(acc, a0 + 6 * as);
        c61.intoArray(acc, a0 + 6 * as + L);
        c70.intoArray(acc, a0 + 7 * as);
        c71.intoArray(acc, a0 + 7 * as + L);
    }

    /** As {@link #kernel8x2} for the last 16 tokens. */
    private static void kernel8x1(float[] w, int w0, int kc, float[] xt, int x0, float[] acc, int a0, int as) {
        FloatVector c0 = FloatVector.fromArray(F, acc, a0), c1 = FloatVector.fromArray(F, acc, a0 + as);
        FloatVector c2 = FloatVector.fromArray(F, acc, a0 + 2 * as), c3 = FloatVector.fromArray(F, acc, a0 + 3 * as);
        FloatVector c4 = FloatVector.fromArray(F, acc, a0 + 4 * as), c5 = FloatVector.fromArray(F, acc, a0 + 5 * as);
        FloatVector c6 = FloatVector.fromArray(F, acc, a0 + 6 * as), c7 = FloatVector.fromArray(F, acc, a0 + 7 * as);
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc, w4 = w3 + kc, w5 = w4 + kc, w6 = w5 + kc, w7 = w6 + kc;
        for (int k = 0, xk = x0; k < kc; k++, xk += L) {
            FloatVector b = FloatVector.fromArray(F, xt, xk);
            c0 = b.fma(FloatVector.broadcast(F, w[w0 + k]), c0);
            c1 = b.fma(FloatVector.broadcast(F, w[w1 + k]), c1);
            c2 = b.fma(FloatVector.broadcast(F, w[w2 + k]), c2);
            c3 = b.fma(FloatVector.broadcast(F, w[w3 + k]), c3);
            c4 = b.fma(FloatVector.broadcast(F, w[w4 + k]), c4);
            c5 = b.fma(FloatVector.broadcast(F, w[w5 + k]), c5);
            c6 = b.fma(FloatVector.broadcast(F, w[w6 + k]), c6);
            c7 = b.fma(FloatVector.broadcast(F, w[w7 + k]), c7);
        }
        c0.intoArray(acc, a0);
        c1.intoArray(acc, a0 + as);
        c2.intoArray(acc, a0 + 2 * as);
        c3.intoArray(acc, a0 + 3 * as);
        c4.intoArray(acc, a0 + 4 * as);
        c5.intoArray(acc, a0 + 5 * as);
        c6.intoArray(acc, a0 + 6 * as);
        c7.intoArray(acc, a0 + 7 * as);
    }

    /**
     * As {@link #panel} for 8 lanes (AVX2): 16 vector registers hold 4 rows × 16 tokens of accumulators, so
     * each 32-token block is taken in two halves; a partial last block (8, 16 or 24 tokens) ends with one
     * vector. Each half reads one 64-byte line of xt per column, which stays in L1 while all rows pass.
     */
    private static void panel8(PackedMatrix w, float[] xt, int np, float[] out, int t0, int nt, int r0, int rt,
                               float[] tile, float[] acc) {
        int rows = w.rows;
        int cols = w.cols;
        int rp = (rt + MR8 - 1) / MR8 * MR8; // padding rows decode as zeros
        java.util.Arrays.fill(acc, 0, rp * np, 0f);
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kc = Math.min(KC, cols - k0);
            for (int r = 0; r < rt; r++) {
                w.dequantize(r0 + r, k0, k0 + kc, tile, r * kc);
            }
            java.util.Arrays.fill(tile, rt * kc, rp * kc, 0f);
            for (int t = 0; t < np; t += BLOCK) {
                int width = Math.min(BLOCK, np - t);
                int xb = t * cols + k0 * width;
                int v = 0;
                for (; v + 2 * L <= width; v += 2 * L) {
                    // 6-row tiles while the rest stays a multiple of 4 (rp is): 6 and 4 rows cover every rp.
                    for (int r = 0; r < rp; ) {
                        if (rp - r >= 6 && rp - r != 8) {
                            kernel6x2(tile, r * kc, kc, xt, xb + v, width, acc, r * np + t + v, np);
                            r += 6;
                        } else {
                            kernel4x2(tile, r * kc, kc, xt, xb + v, width, acc, r * np + t + v, np);
                            r += 4;
                        }
                    }
                }
                if (v < width) {
                    for (int r = 0; r < rp; r += MR8) {
                        kernel4x1(tile, r * kc, kc, xt, xb + v, width, acc, r * np + t + v, np);
                    }
                }
            }
        }
        for (int t = 0; t < nt; t++) {
            int o = (t0 + t) * rows + r0;
            for (int r = 0; r < rt; r++) {
                out[o + r] = acc[r * np + t];
            }
        }
    }

    /**
     * acc[a0 + r · as + t] += Σ_k w[w0 + r · kc + k] · xt[x0 + xs · k + t] for 4 rows r and 2 · L tokens t:
     * 8 accumulators, two token vectors loaded and four weights broadcast per column.
     */
    private static void kernel4x2(float[] w, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int as) {
        FloatVector c00 = FloatVector.fromArray(F, acc, a0), c01 = FloatVector.fromArray(F, acc, a0 + L);
        FloatVector c10 = FloatVector.fromArray(F, acc, a0 + as), c11 = FloatVector.fromArray(F, acc, a0 + as + L);
        FloatVector c20 = FloatVector.fromArray(F, acc, a0 + 2 * as), c21 = FloatVector.fromArray(F, acc, a0 + 2 * as + L);
        FloatVector c30 = FloatVector.fromArray(F, acc, a0 + 3 * as), c31 = FloatVector.fromArray(F, acc, a0 + 3 * as + L);
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        for (int k = 0, xk = x0; k < kc; k++, xk += xs) {
            FloatVector b0 = FloatVector.fromArray(F, xt, xk);
            FloatVector b1 = FloatVector.fromArray(F, xt, xk + L);
            FloatVector a = FloatVector.broadcast(F, w[w0 + k]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(F, w[w1 + k]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(F, w[w2 + k]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(F, w[w3 + k]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
        }
        c00.intoArray(acc, a0);
        c01.intoArray(acc, a0 + L);
        c10.intoArray(acc, a0 + as);
        c11.intoArray(acc, a0 + as + L);
        c20.intoArray(acc, a0 + 2 * as);
        c21.intoArray(acc, a0 + 2 * as + L);
        c30.intoArray(acc, a0 + 3 * as);
        c31.intoArray(acc, a0 + 3 * as + L);
    }

    /** As {@link #kernel4x2} for 6 rows: 12 accumulators, 15 of the 16 vector registers in use. */
    private static void kernel6x2(float[] w, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int as) {
        FloatVector c00 = FloatVector.fromArray(F, acc, a0), c01 = FloatVector.fromArray(F, acc, a0 + L);
        FloatVector c10 = FloatVector.fromArray(F, acc, a0 + as), c11 = FloatVector.fromArray(F, acc, a0 + as + L);
        FloatVector c20 = FloatVector.fromArray(F, acc, a0 + 2 * as), c21 = FloatVector.fromArray(F, acc, a0 + 2 * as + L);
        FloatVector c30 = FloatVector.fromArray(F, acc, a0 + 3 * as), c31 = FloatVector.fromArray(F, acc, a0 + 3 * as + L);
        FloatVector c40 = FloatVector.fromArray(F, acc, a0 + 4 * as), c41 = FloatVector.fromArray(F, acc, a0 + 4 * as + L);
        FloatVector c50 = FloatVector.fromArray(F, acc, a0 + 5 * as), c51 = FloatVector.fromArray(F, acc, a0 + 5 * as + L);
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc, w4 = w3 + kc, w5 = w4 + kc;
        for (int k = 0, xk = x0; k < kc; k++, xk += xs) {
            FloatVector b0 = FloatVector.fromArray(F, xt, xk);
            FloatVector b1 = FloatVector.fromArray(F, xt, xk + L);
            FloatVector a = FloatVector.broadcast(F, w[w0 + k]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(F, w[w1 + k]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(F, w[w2 + k]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(F, w[w3 + k]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            a = FloatVector.broadcast(F, w[w4 + k]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            a = FloatVector.broadcast(F, w[w5 + k]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
        }
        c00.intoArray(acc, a0);
        c01.intoArray(acc, a0 + L);
        c10.intoArray(acc, a0 + as);
        c11.intoArray(acc, a0 + as + L);
        c20.intoArray(acc, a0 + 2 * as);
        c21.intoArray(acc, a0 + 2 * as + L);
        c30.intoArray(acc, a0 + 3 * as);
        c31.intoArray(acc, a0 + 3 * as + L);
        c40.intoArray(acc, a0 + 4 * as);
        c41.intoArray(acc, a0 + 4 * as + L);
        c50.intoArray(acc, a0 + 5 * as);
        c51.intoArray(acc, a0 + 5 * as + L);
    }

    /** As {@link #kernel4x2} for one token vector (the odd last one of a partial block). */
    private static void kernel4x1(float[] w, int w0, int kc, float[] xt, int x0, int xs, float[] acc, int a0, int as) {
        FloatVector c0 = FloatVector.fromArray(F, acc, a0), c1 = FloatVector.fromArray(F, acc, a0 + as);
        FloatVector c2 = FloatVector.fromArray(F, acc, a0 + 2 * as), c3 = FloatVector.fromArray(F, acc, a0 + 3 * as);
        int w1 = w0 + kc, w2 = w1 + kc, w3 = w2 + kc;
        for (int k = 0, xk = x0; k < kc; k++, xk += xs) {
            FloatVector b = FloatVector.fromArray(F, xt, xk);
            c0 = b.fma(FloatVector.broadcast(F, w[w0 + k]), c0);
            c1 = b.fma(FloatVector.broadcast(F, w[w1 + k]), c1);
            c2 = b.fma(FloatVector.broadcast(F, w[w2 + k]), c2);
            c3 = b.fma(FloatVector.broadcast(F, w[w3 + k]), c3);
        }
        c0.intoArray(acc, a0);
        c1.intoArray(acc, a0 + as);
        c2.intoArray(acc, a0 + 2 * as);
        c3.intoArray(acc, a0 + 3 * as);
    }

    private static void rowTile(PackedMatrix w, float[] x, float[] out, int n, int r0, int rt, float[] tile) {
        int rows = w.rows;
        int cols = w.cols;
        for (int t = 0; t < n; t++) {
            java.util.Arrays.fill(out, t * rows + r0, t * rows + r0 + rt, 0f);
        }
        for (int k0 = 0; k0 < cols; k0 += COL_TILE) {
            int kc = Math.min(COL_TILE, cols - k0);
            for (int r = 0; r < rt; r++) {
                w.dequantize(r0 + r, k0, k0 + kc, tile, r * kc);
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
