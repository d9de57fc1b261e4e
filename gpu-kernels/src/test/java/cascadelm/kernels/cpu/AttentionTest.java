package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import cascadelm.kernels.AttentionScores;

/**
 * Attention against a float64 reference written from the Backend contract. Outputs are convex
 * combinations of values, so an absolute tolerance of 1e-5 on unit-scale values is a few float32 roundings
 * of the softmax; score sums are compared relative to their size.
 */
class AttentionTest {
    private static final CpuBackend TWO = new CpuBackend(2);
    private static final CpuBackend ONE = new CpuBackend(1);

    @AfterAll
    static void close() {
        TWO.close();
        ONE.close();
    }

    private record Case(int nQ, int nHeads, int nKv, int headDim, int nKeys, float[] q, float[][] k, float[][] v,
                        float scale, float[] byQuery, float[] byDistance) {
        static Case random(long seed, int nQ, int nHeads, int nKv, int headDim, int nKeys) {
            Random r = new Random(seed);
            float[] q = fill(r, nQ * nHeads * headDim);
            float[][] k = new float[nKv][];
            float[][] v = new float[nKv][];
            for (int h = 0; h < nKv; h++) {
                k[h] = fill(r, nKeys * headDim + 7); // caches may be longer than nKeys
                v[h] = fill(r, nKeys * headDim + 7);
            }
            float[] byQuery = new float[nQ];
            float[] byDistance = new float[nQ];
            for (int i = 0; i < nQ; i++) {
                byQuery[i] = r.nextFloat();
                byDistance[i] = r.nextFloat();
            }
            return new Case(nQ, nHeads, nKv, headDim, nKeys, q, k, v, (float) (1 / Math.sqrt(headDim)), byQuery, byDistance);
        }

        private static float[] fill(Random r, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
            return a;
        }

        float[] run(CpuBackend backend, float[] scoreOut) {
            float[] out = new float[nQ * nHeads * headDim];
            AttentionScores scores = scoreOut == null ? null : new AttentionScores(byQuery, byDistance, scoreOut);
            backend.attention(q, nQ, nHeads, nKv, headDim, k, v, nKeys, scale, out, scores);
            return out;
        }

        /** Returns {out, scores} in float64 straight from the definitions. */
        double[][] reference() {
            double[] out = new double[nQ * nHeads * headDim];
            double[] scores = new double[nHeads * nKeys];
            int c = nKeys - nQ;
            for (int h = 0; h < nHeads; h++) {
                int kv = h / (nHeads / nKv);
                for (int i = 0; i < nQ; i++) {
                    int vis = c + i + 1;
                    double[] p = new double[vis];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < vis; j++) {
                        double s = 0;
                        for (int d = 0; d < headDim; d++) s += (double) q[(i * nHeads + h) * headDim + d] * k[kv][j * headDim + d];
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < vis; j++) sum += p[j] = Math.exp(p[j] - max);
                    for (int j = 0; j < vis; j++) {
                        p[j] /= sum;
                        for (int d = 0; d < headDim; d++) out[(i * nHeads + h) * headDim + d] += p[j] * v[kv][j * headDim + d];
                        double w = j < c ? byQuery[i] : byDistance[i - (j - c)];
                        scores[h * nKeys + j] += w * p[j];
                    }
                }
            }
            return new double[][] {out, scores};
        }
    }

    private static void assertMatchesReference(Case cs, CpuBackend backend, String what) {
        float[] scores = new float[cs.nHeads * cs.nKeys];
        java.util.Arrays.fill(scores, 0.25f); // sums are added to what the array holds
        float[] out = cs.run(backend, scores);
        double[][] ref = cs.reference();
        for (int i = 0; i < out.length; i++) {
            assertEquals(ref[0][i], out[i], 1e-5, what + ": out[" + i + "]");
        }
        for (int i = 0; i < scores.length; i++) {
            double expected = 0.25 + ref[1][i];
            assertEquals(expected, scores[i], 1e-5 * expected, what + ": scores[" + i + "]");
        }
    }

    @Test
    void prefillOverACachedPrefixMatchesReference() {
        assertMatchesReference(Case.random(1, 7, 8, 2, 64, 300), TWO, "nQ=7 over 293 cached");
        assertMatchesReference(Case.random(2, 37, 4, 4, 72, 37), TWO, "nQ=37, no prefix, headDim 72");
    }

    @Test
    void decodeOverALongCacheMatchesReference() {
        assertMatchesReference(Case.random(3, 1, 4, 1, 128, 5000), TWO, "nQ=1 over 5000 keys");
        assertMatchesReference(Case.random(4, 1, 32, 8, 64, 777), TWO, "nQ=1, 8 KV heads");
    }

    @Test
    void largerPrefillChunkMatchesReference() {
        assertMatchesReference(Case.random(5, 100, 6, 2, 32, 1300), TWO, "nQ=100 over 1200 cached");
        // The demo model's shape (6 query heads over 2 KV heads of 64): 15-row tasks, three 4-row groups of
        // the transposed-key kernel and three single rows; 333 keys, not a multiple of the key vectors.
        assertMatchesReference(Case.random(7, 45, 6, 2, 64, 333), TWO, "nQ=45 over 288 cached, heads 6/2 of 64");
        assertMatchesReference(Case.random(8, 45, 6, 2, 64, 333), ONE, "the same on one thread");
    }

    @Test
    void queriesNeverSeeLaterKeysOfTheChunk() {
        Case cs = Case.random(6, 9, 2, 1, 16, 40);
        float[] before = cs.run(TWO, null);
        int last = cs.nKeys - 1; // only the chunk's last query may see it
        for (int d = 0; d < cs.headDim; d++) {
            cs.k[0][last * cs.headDim + d] = 100;
            cs.v[0][last * cs.headDim + d] = 100;
        }
        float[] after = cs.run(TWO, null);
        int lastQueryStart = (cs.nQ - 1) * cs.nHeads * cs.headDim;
        // Not bit-exact: the JIT's vector exp and the interpreter's may differ in the last place.
        for (int i = 0; i < lastQueryStart; i++) assertEquals(before[i], after[i], 1e-6f, "out[" + i + "]");
        assertEquals(100f, after[lastQueryStart], 1e-3f, "the last query attends to the new key almost entirely");
    }

    @Test
    void queryHeadsReadTheirGroupsKvHead() {
        Case cs = Case.random(7, 3, 6, 3, 16, 20);
        java.util.Arrays.fill(cs.v[1], 2f); // heads 2 and 3 read KV head 1: every output is exactly 2
        float[] out = cs.run(TWO, null);
        for (int i = 0; i < cs.nQ; i++) {
            for (int h = 0; h < cs.nHeads; h++) {
                float first = out[(i * cs.nHeads + h) * cs.headDim];
                if (h / 2 == 1) {
                    assertEquals(2f, first, 1e-5f, "head " + h);
                } else {
                    assertEquals(false, Math.abs(first - 2f) < 1e-3f, "head " + h + " must not read KV head 1");
                }
            }
        }
    }

    @Test
    void oneAndTwoThreadsAgree() {
        Case cs = Case.random(8, 33, 8, 2, 64, 500);
        float[] s1 = new float[cs.nHeads * cs.nKeys];
        float[] s2 = new float[cs.nHeads * cs.nKeys];
        float[] a = cs.run(ONE, s1);
        float[] b = cs.run(TWO, s2);
        assertArrayEquals(a, b, 1e-6f); // one task computes each row either way; only JIT tiers may differ
        assertArrayEquals(s1, s2, 1e-6f); // score sums may merge in another order
    }
}
