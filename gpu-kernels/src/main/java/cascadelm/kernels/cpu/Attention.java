package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;

import cascadelm.kernels.AttentionScores;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Causal grouped-query attention of a chunk of queries over a key/value cache, with exact float32 softmax
 * over each whole visible row. A task is (KV head, group of its query heads, block of queries): all its
 * query rows read the same keys, so each chunk of keys is loaded once from memory and reused from cache
 * by every row of the task. Each worker keeps one reusable score buffer of (rows of a task) × (visible
 * length) floats; nothing proportional to nQ · nKeys is allocated.
 */
final class Attention {
    /** Query rows (heads × queries) per task: enough to reuse a key chunk, few enough to stay in L2. */
    static final int ROWS_PER_TASK = 16;
    /** Keys per chunk: 128 keys of dimension 128 are 64 KiB, which stays in L2 while every row reads them. */
    static final int KEY_CHUNK = 128;

    /**
     * Query chunks from this many rows take their q·k from keys transposed once per call (keys along the
     * vector lanes, {@link #scores2x4}): no lane reduction per key, and each key vector loaded once serves 4
     * query rows. Decoding (one query) keeps the plain dot per key, with nothing to share the transpose.
     */
    static final int TRANSPOSED_FROM = 8;

    private final ParallelFor parallel;
    private float[][] transposed = new float[0][];
    private final float[][] probabilities;
    private final float[][] scoreSums;
    private final Object[] headLocks = new Object[0];

    Attention(ParallelFor parallel) {
        this.parallel = parallel;
        this.probabilities = new float[parallel.threads()][];
        this.scoreSums = new float[parallel.threads()][];
    }

    void run(float[] q, int nQ, int nHeads, int nKvHeads, int headDim, float[][] keys, float[][] values, int nKeys,
             float scale, float[] out, AttentionScores scores) {
        if (nHeads % nKvHeads != 0 || nQ > nKeys || nQ <= 0) {
            throw new IllegalArgumentException("attention needs nHeads a multiple of nKvHeads and 0 < nQ <= nKeys");
        }
        int group = nHeads / nKvHeads;
        // Split a KV head's query heads only when there would otherwise be too few tasks to fill the workers.
        int headsPerTask = group;
        int queryBlock = Math.max(1, ROWS_PER_TASK / headsPerTask);
        int queryBlocks = (nQ + queryBlock - 1) / queryBlock;
        while (headsPerTask % 2 == 0 && nKvHeads * (group / headsPerTask) * queryBlocks < 2 * parallel.threads()) {
            headsPerTask /= 2;
        }
        int subgroups = group / headsPerTask;
        int hp = headsPerTask;
        Object[] locks = scores == null ? headLocks : newLocks(nHeads);
        float[][] kt = nQ >= TRANSPOSED_FROM ? transpose(keys, nKvHeads, headDim, nKeys) : null;
        parallel.run(nKvHeads * subgroups * queryBlocks, (task, worker) -> {
            int qb = task % queryBlocks;
            int sub = task / queryBlocks % subgroups;
            int kv = task / queryBlocks / subgroups;
            int q0 = qb * queryBlock;
            int q1 = Math.min(nQ, q0 + queryBlock);
            new Task(q, nQ, nHeads, headDim, keys[kv], kt == null ? null : kt[kv], values[kv], nKeys, scale, out, scores,
                    kv * group + sub * hp, hp, q0, q1, worker, locks).run();
        });
    }

    /** Keys padded to a multiple of 2L: the row pitch of the transposed keys and of the probability rows. */
    static int padded(int n) {
        return (n + 2 * L - 1) / (2 * L) * (2 * L);
    }

    /** Each KV head's keys as kt[d · padded(nKeys) + j] = k[j · headDim + d], zero past nKeys; buffers reused. */
    private float[][] transpose(float[][] keys, int nKvHeads, int headDim, int nKeys) {
        int pitch = padded(nKeys);
        if (transposed.length < nKvHeads) {
            transposed = java.util.Arrays.copyOf(transposed, nKvHeads);
        }
        for (int h = 0; h < nKvHeads; h++) {
            if (transposed[h] == null || transposed[h].length < headDim * pitch) {
                transposed[h] = new float[headDim * pitch];
            }
        }
        float[][] kt = transposed;
        int block = 64; // keys per task: a 64 × headDim block of k is read once, written as 64-key runs
        int blocks = pitch / block + 1;
        parallel.run(nKvHeads * blocks, (task, worker) -> {
            int h = task / blocks, j0 = task % blocks * block, j1 = Math.min(pitch, j0 + block);
            float[] k = keys[h], t = kt[h];
            for (int d = 0; d < headDim; d++) {
                int row = d * pitch;
                for (int j = j0; j < j1; j++) {
                    t[row + j] = j < nKeys ? k[j * headDim + d] : 0f;
                }
            }
        });
        return kt;
    }

    private static Object[] newLocks(int n) {
        Object[] locks = new Object[n];
        for (int i = 0; i < n; i++) {
            locks[i] = new Object();
        }
        return locks;
    }

    private float[] buffer(float[][] perWorker, int worker, int size) {
        float[] b = perWorker[worker];
        if (b == null || b.length < size) {
            b = new float[Math.max(size, b == null ? 0 : b.length + b.length / 2)];
            perWorker[worker] = b;
        }
        return b;
    }

    /** One (heads × query block) unit of work; rows are numbered head-major. */
    private final class Task {
        final float[] q, k, kt, v, out;
        final int nQ, nHeads, headDim, nKeys, head0, heads, q0, q1, worker;
        final float scale;
        final AttentionScores scores;
        final Object[] locks;

        Task(float[] q, int nQ, int nHeads, int headDim, float[] k, float[] kt, float[] v, int nKeys, float scale, float[] out,
             AttentionScores scores, int head0, int heads, int q0, int q1, int worker, Object[] locks) {
            this.q = q;
            this.kt = kt;
            this.nQ = nQ;
            this.nHeads = nHeads;
            this.headDim = headDim;
            this.k = k;
            this.v = v;
            this.nKeys = nKeys;
            this.scale = scale;
            this.out = out;
            this.scores = scores;
            this.head0 = head0;
            this.heads = heads;
            this.q0 = q0;
            this.q1 = q1;
            this.worker = worker;
            this.locks = locks;
        }

        int visible(int query) {
            return nKeys - nQ + query + 1;
        }

        int rowOffset(int head, int query) {
            return (query * nHeads + head) * headDim;
        }

        // Each pass is its own method: inlined into one body, the passes exceed C2's inlining budget and
        // the vector calls left un-inlined run boxed, several times slower (seen in a JFR profile).
        void run() {
            int queries = q1 - q0;
            // Rows of p are padded to a multiple of 2L when the transposed kernel writes whole key vectors.
            int stride = kt == null ? visible(q1 - 1) : padded(visible(q1 - 1));
            float[] p = buffer(probabilities, worker, heads * queries * stride);
            if (kt == null) {
                dotProducts(p, queries, stride);
            } else {
                transposedDotProducts(p, queries, stride);
            }
            for (int r = 0; r < heads * queries; r++) {
                softmaxRow(p, r * stride, visible(q0 + r % queries));
            }
            if (scores != null) {
                accumulateScores(p, queries, stride);
            }
            weightedValues(p, queries, stride);
        }

        /** Scaled q·k, key chunk by key chunk so each chunk is reused by every row from cache. */
        private void dotProducts(float[] p, int queries, int stride) {
            for (int j0 = 0; j0 < stride; j0 += KEY_CHUNK) {
                int j1 = Math.min(stride, j0 + KEY_CHUNK);
                for (int h = 0; h < heads; h++) {
                    for (int i = q0; i < q1; i++) {
                        int end = Math.min(j1, visible(i));
                        int row = (h * queries + i - q0) * stride;
                        int qo = rowOffset(head0 + h, i);
                        for (int j = j0; j < end; j++) {
                            p[row + j] = scale * dot(q, qo, k, j * headDim, headDim);
                        }
                    }
                }
            }
        }

        /**
         * As {@link #dotProducts} from the transposed keys: 4 rows × 2L keys at a time (2 rows for the odd
         * ones), each row group up to its last row's visible keys rounded up to 2L; keys past a row's visible
         * end are computed but never read.
         */
        private void transposedDotProducts(float[] p, int queries, int stride) {
            int rows = heads * queries;
            int pitch = padded(nKeys);
            for (int j0 = 0; j0 < stride; j0 += KEY_CHUNK) {
                int j1 = Math.min(stride, j0 + KEY_CHUNK);
                int r = 0;
                for (; r + 4 <= rows; r += 4) {
                    int end = Math.min(j1, padded(maxVisible(r, 4, queries)));
                    for (int j = j0; j < end; j += 2 * L) {
                        scores2x4(q, qOffset(r, queries), qOffset(r + 1, queries), qOffset(r + 2, queries), qOffset(r + 3, queries),
                                kt, pitch, j, headDim, scale, p, r * stride + j, stride);
                    }
                }
                for (; r < rows; r++) {
                    int end = Math.min(j1, padded(maxVisible(r, 1, queries)));
                    for (int j = j0; j < end; j += 2 * L) {
                        scores2x1(q, qOffset(r, queries), kt, pitch, j, headDim, scale, p, r * stride + j);
                    }
                }
            }
        }

        /** Offset in q of row r (head-major numbering: r = h · queries + i − q0). */
        private int qOffset(int r, int queries) {
            return rowOffset(head0 + r / queries, q0 + r % queries);
        }

        private int maxVisible(int r, int count, int queries) {
            int m = 0;
            for (int i = r; i < r + count; i++) {
                m = Math.max(m, visible(q0 + i % queries));
            }
            return m;
        }

        /**
         * Probability-weighted sums of values, again chunk by chunk: 4 rows at a time over the keys all four
         * see ({@link #weighted4x4}: each value vector loaded once for the 4 rows), then each row alone over
         * its own last keys and the columns past a multiple of 4L.
         */
        private void weightedValues(float[] p, int queries, int stride) {
            int rows = heads * queries;
            for (int r = 0; r < rows; r++) {
                int o = qOffset(r, queries);
                java.util.Arrays.fill(out, o, o + headDim, 0f);
            }
            int wide = headDim - headDim % (4 * L);
            for (int j0 = 0; j0 < stride; j0 += KEY_CHUNK) {
                int j1 = Math.min(stride, j0 + KEY_CHUNK);
                int r = 0;
                for (; r + 4 <= rows && wide > 0; r += 4) {
                    int shared = Math.min(j1, minVisible(r, 4, queries));
                    if (shared > j0) {
                        for (int c = 0; c < wide; c += 4 * L) {
                            weighted4x4(p, r * stride, stride, j0, shared, v, headDim, c, out,
                                    qOffset(r, queries), qOffset(r + 1, queries), qOffset(r + 2, queries), qOffset(r + 3, queries));
                        }
                    }
                    for (int k = r; k < r + 4; k++) {
                        int end = Math.min(j1, visible(q0 + k % queries));
                        int from = Math.max(j0, shared);
                        if (wide < headDim && shared > j0) {
                            weightedSum(p, k * stride, j0, shared, v, headDim, wide, out, qOffset(k, queries));
                        }
                        if (end > from) {
                            weightedSum(p, k * stride, from, end, v, headDim, 0, out, qOffset(k, queries));
                        }
                    }
                }
                for (; r < rows; r++) {
                    int end = Math.min(j1, visible(q0 + r % queries));
                    if (end > j0) {
                        weightedSum(p, r * stride, j0, end, v, headDim, 0, out, qOffset(r, queries));
                    }
                }
            }
        }

        private int minVisible(int r, int count, int queries) {
            int m = Integer.MAX_VALUE;
            for (int i = r; i < r + count; i++) {
                m = Math.min(m, visible(q0 + i % queries));
            }
            return m;
        }

        private void accumulateScores(float[] p, int queries, int stride) {
            int length = visible(q1 - 1); // the keys any row sees; stride may be padded past them
            float[] acc = buffer(scoreSums, worker, length);
            int cached = nKeys - nQ;
            float[] byQuery = scores.weightByQuery();
            float[] byDistance = scores.weightByDistance();
            for (int h = 0; h < heads; h++) {
                java.util.Arrays.fill(acc, 0, length, 0f);
                for (int i = q0; i < q1; i++) {
                    int row = (h * queries + i - q0) * stride;
                    float wq = byQuery[i];
                    int j = 0;
                    for (int end = cached - L; j <= end; j += L) {
                        FloatVector.fromArray(F, p, row + j).fma(FloatVector.broadcast(F, wq), FloatVector.fromArray(F, acc, j)).intoArray(acc, j);
                    }
                    for (; j < cached; j++) {
                        acc[j] += wq * p[row + j];
                    }
                    for (j = cached; j < visible(i); j++) {
                        acc[j] += byDistance[i - (j - cached)] * p[row + j];
                    }
                }
                int head = head0 + h;
                float[] target = scores.out();
                synchronized (locks[head]) {
                    Elementwise.add(target, head * nKeys, acc, 0, length);
                }
            }
        }
    }

    /** Exact softmax of one whole visible row, in place. */
    static void softmaxRow(float[] p, int offset, int length) {
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int end = length - L; i <= end; i += L) {
            m = m.max(FloatVector.fromArray(F, p, offset + i));
        }
        float max = m.reduceLanes(VectorOperators.MAX);
        for (int t = i; t < length; t++) {
            max = Math.max(max, p[offset + t]);
        }
        FloatVector sum = FloatVector.zero(F);
        i = 0;
        for (int end = length - L; i <= end; i += L) {
            FloatVector e = FloatVector.fromArray(F, p, offset + i).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(p, offset + i);
            sum = sum.add(e);
        }
        float total = sum.reduceLanes(VectorOperators.ADD);
        for (int t = i; t < length; t++) {
            float e = (float) Math.exp(p[offset + t] - max);
            p[offset + t] = e;
            total += e;
        }
        FloatVector inv = FloatVector.broadcast(F, 1 / total);
        i = 0;
        for (int end = length - L; i <= end; i += L) {
            FloatVector.fromArray(F, p, offset + i).mul(inv).intoArray(p, offset + i);
        }
        for (int t = i; t < length; t++) {
            p[offset + t] *= 1 / total;
        }
    }

    /**
     * {@code p[p0 + r · ps + t] = scale · Σ_d q[qr + d] · kt[d · pitch + j + t]} for 4 query rows r (offsets
     * qa..qd) and 2L keys t: 8 accumulators, two key vectors loaded and four query values broadcast per d.
     */
    static void scores2x4(float[] q, int qa, int qb, int qc, int qd, float[] kt, int pitch, int j, int headDim, float scale,
                          float[] p, int p0, int ps) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (int d = 0, at = j; d < headDim; d++, at += pitch) {
            FloatVector k0 = FloatVector.fromArray(F, kt, at), k1 = FloatVector.fromArray(F, kt, at + L);
            FloatVector x = FloatVector.broadcast(F, q[qa + d]);
            a0 = k0.fma(x, a0);
            a1 = k1.fma(x, a1);
            x = FloatVector.broadcast(F, q[qb + d]);
            b0 = k0.fma(x, b0);
            b1 = k1.fma(x, b1);
            x = FloatVector.broadcast(F, q[qc + d]);
            c0 = k0.fma(x, c0);
            c1 = k1.fma(x, c1);
            x = FloatVector.broadcast(F, q[qd + d]);
            d0 = k0.fma(x, d0);
            d1 = k1.fma(x, d1);
        }
        a0.mul(scale).intoArray(p, p0);
        a1.mul(scale).intoArray(p, p0 + L);
        b0.mul(scale).intoArray(p, p0 + ps);
        b1.mul(scale).intoArray(p, p0 + ps + L);
        c0.mul(scale).intoArray(p, p0 + 2 * ps);
        c1.mul(scale).intoArray(p, p0 + 2 * ps + L);
        d0.mul(scale).intoArray(p, p0 + 3 * ps);
        d1.mul(scale).intoArray(p, p0 + 3 * ps + L);
    }

    /** As {@link #scores2x4} for one query row. */
    static void scores2x1(float[] q, int qa, float[] kt, int pitch, int j, int headDim, float scale, float[] p, int p0) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        for (int d = 0, at = j; d < headDim; d++, at += pitch) {
            FloatVector x = FloatVector.broadcast(F, q[qa + d]);
            a0 = FloatVector.fromArray(F, kt, at).fma(x, a0);
            a1 = FloatVector.fromArray(F, kt, at + L).fma(x, a1);
        }
        a0.mul(scale).intoArray(p, p0);
        a1.mul(scale).intoArray(p, p0 + L);
    }

    static float dot(float[] a, int a0, float[] b, int b0, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = FloatVector.fromArray(F, a, a0 + i).fma(FloatVector.fromArray(F, b, b0 + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[a0 + i] * b[b0 + i];
        }
        return s;
    }

    /** {@code out[o0 + c] += Σ_{j in [j0, j1)} p[row + j] · v[j·d + c]} for the columns c in [c0, d). */
    static void weightedSum(float[] p, int row, int j0, int j1, float[] v, int d, int c0, float[] out, int o0) {
        int c = c0;
        for (; c <= d - L; c += L) {
            // Four partial sums over alternating keys keep four FMA chains in flight.
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            int j = j0;
            for (; j + 4 <= j1; j += 4) {
                a0 = FloatVector.fromArray(F, v, j * d + c).fma(FloatVector.broadcast(F, p[row + j]), a0);
                a1 = FloatVector.fromArray(F, v, (j + 1) * d + c).fma(FloatVector.broadcast(F, p[row + j + 1]), a1);
                a2 = FloatVector.fromArray(F, v, (j + 2) * d + c).fma(FloatVector.broadcast(F, p[row + j + 2]), a2);
                a3 = FloatVector.fromArray(F, v, (j + 3) * d + c).fma(FloatVector.broadcast(F, p[row + j + 3]), a3);
            }
            for (; j < j1; j++) {
                a0 = FloatVector.fromArray(F, v, j * d + c).fma(FloatVector.broadcast(F, p[row + j]), a0);
            }
            a0.add(a1).add(a2.add(a3)).add(FloatVector.fromArray(F, out, o0 + c)).intoArray(out, o0 + c);
        }
        for (; c < d; c++) {
            float s = 0;
            for (int j = j0; j < j1; j++) {
                s += p[row + j] * v[j * d + c];
            }
            out[o0 + c] += s;
        }
    }

    /**
     * {@code out[o_r + c + t] += Σ_{j in [j0, j1)} p[row0 + r · ps + j] · v[j·d + c + t]} for 4 rows r (outputs
     * at oa..od) and the 4L columns from c: 16 accumulators; per key four value vectors loaded and four
     * probabilities broadcast.
     */
    static void weighted4x4(float[] p, int row0, int ps, int j0, int j1, float[] v, int d, int c, float[] out,
                            int oa, int ob, int oc, int od) {
        FloatVector a0 = FloatVector.fromArray(F, out, oa + c), a1 = FloatVector.fromArray(F, out, oa + c + L);
        FloatVector a2 = FloatVector.fromArray(F, out, oa + c + 2 * L), a3 = FloatVector.fromArray(F, out, oa + c + 3 * L);
        FloatVector b0 = FloatVector.fromArray(F, out, ob + c), b1 = FloatVector.fromArray(F, out, ob + c + L);
        FloatVector b2 = FloatVector.fromArray(F, out, ob + c + 2 * L), b3 = FloatVector.fromArray(F, out, ob + c + 3 * L);
        FloatVector c0 = FloatVector.fromArray(F, out, oc + c), c1 = FloatVector.fromArray(F, out, oc + c + L);
        FloatVector c2 = FloatVector.fromArray(F, out, oc + c + 2 * L), c3 = FloatVector.fromArray(F, out, oc + c + 3 * L);
        FloatVector d0 = FloatVector.fromArray(F, out, od + c), d1 = FloatVector.fromArray(F, out, od + c + L);
        FloatVector d2 = FloatVector.fromArray(F, out, od + c + 2 * L), d3 = FloatVector.fromArray(F, out, od + c + 3 * L);
        for (int j = j0; j < j1; j++) {
            int at = j * d + c;
            FloatVector v0 = FloatVector.fromArray(F, v, at), v1 = FloatVector.fromArray(F, v, at + L);
            FloatVector v2 = FloatVector.fromArray(F, v, at + 2 * L), v3 = FloatVector.fromArray(F, v, at + 3 * L);
            FloatVector x = FloatVector.broadcast(F, p[row0 + j]);
            a0 = v0.fma(x, a0);
            a1 = v1.fma(x, a1);
            a2 = v2.fma(x, a2);
            a3 = v3.fma(x, a3);
            x = FloatVector.broadcast(F, p[row0 + ps + j]);
            b0 = v0.fma(x, b0);
            b1 = v1.fma(x, b1);
            b2 = v2.fma(x, b2);
            b3 = v3.fma(x, b3);
            x = FloatVector.broadcast(F, p[row0 + 2 * ps + j]);
            c0 = v0.fma(x, c0);
            c1 = v1.fma(x, c1);
            c2 = v2.fma(x, c2);
            c3 = v3.fma(x, c3);
            x = FloatVector.broadcast(F, p[row0 + 3 * ps + j]);
            d0 = v0.fma(x, d0);
            d1 = v1.fma(x, d1);
            d2 = v2.fma(x, d2);
            d3 = v3.fma(x, d3);
        }
        a0.intoArray(out, oa + c);
        a1.intoArray(out, oa + c + L);
        a2.intoArray(out, oa + c + 2 * L);
        a3.intoArray(out, oa + c + 3 * L);
        b0.intoArray(out, ob + c);
        b1.intoArray(out, ob + c + L);
        b2.intoArray(out, ob + c + 2 * L);
        b3.intoArray(out, ob + c + 3 * L);
        c0.intoArray(out, oc + c);
        c1.intoArray(out, oc + c + L);
        c2.intoArray(out, oc + c + 2 * L);
        c3.intoArray(out, oc + c + 3 * L);
        d0.intoArray(out, od + c);
        d1.intoArray(out, od + c + L);
        d2.intoArray(out, od + c + 2 * L);
        d3.intoArray(out, od + c + 3 * L);
    }
}
