package cascadelm.kernels.cpu;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.Rope;

/**
 * The {@link Backend} on the CPU's vector units ({@code FloatVector.SPECIES_PREFERRED}), parallel over one
 * fixed set of worker threads. Not re-entrant: one call at a time, as the interface requires.
 */
public final class CpuBackend implements Backend {
    /** Below this many elements an element-wise call costs less than waking the workers. */
    private static final int PARALLEL_ELEMENTS = 1 << 16;

    private final ParallelFor parallel;
    private final Matmul matmul;
    private final Attention attention;
    private final float[][] ropeCos;
    private final float[][] ropeSin;
    /**
     * Positions below this take their rotary cos and sin from a table (8 MB at 32 pairs): the session
     * re-rotates every cached key on every step, and forming the angles (two double-precision trig calls
     * per pair) cost far more than the rotation.
     */
    static final int ROPE_TABLE_POSITIONS = 1 << 15;
    private float[] ropeTableFreq;
    private float[] ropeTableCos = new float[0];
    private float[] ropeTableSin = new float[0];
    private int ropeTablePositions;

    /** @param threads worker threads including the caller's; {@code <= 0} means one per available processor */
    public CpuBackend(int threads) {
        this(threads, true);
    }

    /**
     * @param threads         worker threads including the caller's; {@code <= 0} means one per available processor
     * @param int8Activations whether Q4_0 products of one row (every product with n = 1: decoding, and also a
     *                        one-token prefill chunk) quantize x to 8-bit blocks, as llama.cpp does (see
     *                        Int8Activations; whole decode steps took 0.54–0.67× the float32 kernel's time side by
     *                        side, bench/results/cpu-decode-20261208.md; each x is rounded to 1/254 of its block's
     *                        largest |x|); false multiplies in float32 throughout, as a reference for other float32
     *                        implementations (the GPU tests) needs
     */
    public CpuBackend(int threads, boolean int8Activations) {
        this.parallel = new ParallelFor(threads);
        this.matmul = new Matmul(parallel, int8Activations);
        this.attention = new Attention(parallel);
        this.ropeCos = new float[parallel.threads()][0];
        this.ropeSin = new float[parallel.threads()][0];
    }

    public int threads() {
        return parallel.threads();
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public void matmul(Matrix w, float[] x, float[] out, int n) {
        matmul.run(w, x, out, n);
    }

    @Override
    public void matmuls(Matrix[] ws, float[] x, float[][] outs, int n) {
        matmul.runAll(ws, x, outs, n);
    }

    @Override
    public void rmsNorm(float[] x, float[] weight, float[] out, int n, int dim, float eps) {
        rows(n, dim, t -> Elementwise.rmsNorm(x, t * dim, weight, out, t * dim, dim, eps));
    }

    @Override
    public void rope(float[] x, int n, int heads, int headDim, int[] positions, Rope rope) {
        if (rope.rotaryDims() > headDim) {
            throw new IllegalArgumentException("rotary dimensions " + rope.rotaryDims() + " exceed the head dimension " + headDim);
        }
        int pairs = rope.rotaryDims() / 2;
        int rowLength = heads * headDim;
        int tabled = ropeTable(rope, positions, n);
        float[] cos = ropeTableCos, sin = ropeTableSin;
        int tablePairs = rope.inverseFrequencies().length;
        ParallelFor.Body row = (t, worker) -> {
            if (positions[t] >= 0 && positions[t] < tabled) {
                RopeKernel.rotate(x, t * rowLength, heads, headDim, rope.neox(), tablePairs, cos, sin, positions[t] * tablePairs);
                return;
            }
            if (ropeCos[worker].length < pairs) {
                ropeCos[worker] = new float[pairs];
                ropeSin[worker] = new float[pairs];
            }
            RopeKernel.rotateRow(x, t * rowLength, heads, headDim, positions[t], rope, ropeCos[worker], ropeSin[worker]);
        };
        if ((long) n * heads * pairs < PARALLEL_ELEMENTS / 2) { // from the table, a few microseconds: less than waking the workers
            for (int t = 0; t < n; t++) {
                row.run(t, 0);
            }
        } else {
            parallel.run(n, row);
        }
    }

    /** Extends the table to cover the positions given (up to ROPE_TABLE_POSITIONS); returns the positions it covers. */
    private int ropeTable(Rope rope, int[] positions, int n) {
        float[] freq = rope.inverseFrequencies();
        if (ropeTableFreq != freq && !java.util.Arrays.equals(ropeTableFreq, freq)) {
            ropeTableFreq = freq.clone();
            ropeTablePositions = 0;
        }
        int need = 0;
        for (int t = 0; t < n; t++) {
            need = Math.max(need, Math.min(ROPE_TABLE_POSITIONS, positions[t] + 1));
        }
        if (need > ropeTablePositions) {
            int pairs = freq.length;
            if (ropeTableCos.length < need * pairs) {
                int capacity = Math.min(ROPE_TABLE_POSITIONS, Math.max(need, 2 * ropeTablePositions)) * pairs;
                ropeTableCos = java.util.Arrays.copyOf(ropeTableCos, capacity);
                ropeTableSin = java.util.Arrays.copyOf(ropeTableSin, capacity);
            }
            for (int p = ropeTablePositions; p < need; p++) {
                RopeKernel.angles(freq, p, ropeTableCos, ropeTableSin, p * pairs);
            }
            ropeTablePositions = need;
        }
        return ropeTablePositions;
    }

    @Override
    public void softmax(float[] x, int offset, int length) {
        Elementwise.softmax(x, offset, length);
    }

    @Override
    public void swiGlu(float[] gate, float[] up, int length) {
        chunks(length, (from, to) -> Elementwise.swiGlu(gate, up, from, to));
    }

    @Override
    public void add(float[] a, float[] b, int length) {
        chunks(length, (from, to) -> Elementwise.add(a, from, b, from, to - from));
    }

    @Override
    public void attention(float[] q, int nQ, int nHeads, int nKvHeads, int headDim, float[][] keys, float[][] values,
                          int nKeys, float scale, float[] out, AttentionScores scores) {
        attention.run(q, nQ, nHeads, nKvHeads, headDim, keys, values, nKeys, scale, out, scores);
    }

    @Override
    public void dequantizeRow(Matrix w, int row, float[] out, int outOffset) {
        RowKernel.of(w.type()).dequantize(PackedMatrix.plain(w.data()), row * w.rowBytes(), 0, w.cols(), out, outOffset);
    }

    @Override
    public void close() {
        parallel.close();
    }

    private interface Range {
        void run(int from, int to);
    }

    private interface Row {
        void run(int t);
    }

    private void rows(int n, int dim, Row body) {
        if ((long) n * dim < PARALLEL_ELEMENTS) {
            for (int t = 0; t < n; t++) {
                body.run(t);
            }
        } else {
            parallel.run(n, (t, worker) -> body.run(t));
        }
    }

    private void chunks(int length, Range body) {
        if (length < PARALLEL_ELEMENTS) {
            body.run(0, length);
            return;
        }
        // Chunks are whole multiples of 1024 so every chunk but the last runs the vector loop only.
        int chunk = Math.max(1024, (length / (parallel.threads() * 4) + 1023) / 1024 * 1024);
        parallel.run((length + chunk - 1) / chunk, (c, worker) -> body.run(c * chunk, Math.min(length, (c + 1) * chunk)));
    }
}
