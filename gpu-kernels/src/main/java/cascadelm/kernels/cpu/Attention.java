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

    private final ParallelFor parallel;
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
        parallel.run(nKvHeads * subgroups * queryBlocks, (task, worker) -> {
            int qb = task % queryBlocks;
            int sub = task / queryBlocks % subgroups;
            int kv = task / queryBlocks / subgroups;
            int q0 = qb * queryBlock;
            int q1 = Math.min(nQ, q0 + queryBlock);
            new Task(q, nQ, nHeads, headDim, keys[kv], values[kv], nKeys, scale, out, scores,
                    kv * group + sub * hp, hp, q0, q1, worker, locks).run();
        });
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
        final float[] q, k, v, out;
        final int nQ, nHeads, headDim, nKeys, head0, heads, q0, q1, worker;
        final float scale;
        final AttentionScores scores;
        final Object[] locks;

        Task(float[] q, int nQ, int nHeads, int headDim, float[] k, float[] v, int nKeys, float scale, float[] out,
             AttentionScores scores, int head0, int heads, int q0, int q1, int worker, Object[] locks) {
            this.q = q;
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
            int stride = visible(q1 - 1);
            float[] p = buffer(probabilities, worker, heads * queries * stride);
            dotProducts(p, queries, stride);
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

        /** Probability-weighted sums of values, again chunk by chunk. */
        private void weightedValues(float[] p, int queries, int stride) {
            for (int h = 0; h < heads; h++) {
                for (int i = q0; i < q1; i++) {
                    java.util.Arrays.fill(out, rowOffset(head0 + h, i), rowOffset(head0 + h, i) + headDim, 0f);
                }
            }
            for (int j0 = 0; j0 < stride; j0 += KEY_CHUNK) {
                int j1 = Math.min(stride, j0 + KEY_CHUNK);
                for (int h = 0; h < heads; h++) {
                    for (int i = q0; i < q1; i++) {
                        int end = Math.min(j1, visible(i));
                        if (end > j0) {
                            weightedSum(p, (h * queries + i - q0) * stride, j0, end, v, headDim, out, rowOffset(head0 + h, i));
                        }
                    }
                }
            }
        }

        private void accumulateScores(float[] p, int queries, int stride) {
            float[] acc = buffer(scoreSums, worker, stride);
            int cached = nKeys - nQ;
            float[] byQuery = scores.weightByQuery();
            float[] byDistance = scores.weightByDistance();
            for (int h = 0; h < heads; h++) {
                java.util.Arrays.fill(acc, 0, stride, 0f);
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
                    Elementwise.add(target, head * nKeys, acc, 0, stride);
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

    /** {@code out[o0, o0 + d) += Σ_{j in [j0, j1)} p[row + j] · v[j·d ...]}. */
    static void weightedSum(float[] p, int row, int j0, int j1, float[] v, int d, float[] out, int o0) {
        int c = 0;
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
}
