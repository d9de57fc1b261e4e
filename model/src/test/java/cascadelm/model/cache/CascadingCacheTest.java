package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.LongToDoubleFunction;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cascade rules of cascade-spec.md §2–§4, checked against the spec's own test cases (§8). */
class CascadingCacheTest {
    private static final int HEAD_DIM = 2;

    static CascadingCache cache(int sinks, int size, int cascades, boolean eager, String select) {
        return cache(sinks, size, cascades, eager, select, 1, 1);
    }

    static CascadingCache cache(int sinks, int size, int cascades, boolean eager, String select, int kvHeads, int heads) {
        CacheSettings s = CacheSettings.from(Map.of("cache", "cascade", "sinks", "" + sinks, "cache-size", "" + size,
                "cascades", "" + cascades, "eager-fill", "" + eager, "select", select));
        return new CascadingCache(1, kvHeads, heads, HEAD_DIM, s);
    }

    /** Inserts tokens 0..n−1 one at a time, token t with the score given (same for every head). */
    static void feed(CascadingCache c, int n, LongToDoubleFunction score) {
        for (long t = 0; t < n; t++) {
            float[] kv = {t, -t};
            float[] scores = new float[c.kvHeads];
            java.util.Arrays.fill(scores, (float) score.applyAsDouble(t));
            c.insert(0, t, kv, kv, 0, scores);
        }
    }

    static void feed(CascadingCache c, int n) {
        feed(c, n, t -> 0);
    }

    static int[] range(int from, int toInclusive) {
        return IntStream.rangeClosed(from, toInclusive).toArray();
    }

    @Test
    void oneCascadeWithoutSinksIsASlidingWindow() {                                    // spec 8.1
        CascadingCache c = cache(0, 8, 1, true, "stride");
        feed(c, 50);
        assertArrayEquals(range(42, 49), c.heldPositions(0, 0, 0));
    }

    @Test
    void oneCascadeWithSinksIsStreamingLlm() {                                         // spec 8.2, 8.4
        CascadingCache c = cache(4, 8, 1, true, "stride");
        feed(c, 20);
        assertArrayEquals(range(0, 3), c.sinkPositions(0, 0));
        assertArrayEquals(range(12, 19), c.heldPositions(0, 0, 0));
    }

    @Test
    void twoCascadesEagerFillOff() {                                                   // spec 8.4
        CascadingCache c = cache(0, 8, 2, false, "stride");
        feed(c, 12);
        assertArrayEquals(new int[]{8, 9, 10, 11}, c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{1, 3, 5, 7}, c.heldPositions(0, 0, 1));
    }

    @Test
    void twoCascadesEagerFillOn() {                                                    // spec 8.4
        CascadingCache c = cache(0, 8, 2, true, "stride");
        feed(c, 12);
        assertArrayEquals(new int[]{8, 9, 10, 11}, c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{2, 3, 5, 7}, c.heldPositions(0, 0, 1));
    }

    @Test
    void threeCascadesWithSinks() {                                                    // spec 8.4
        CascadingCache c = cache(2, 12, 3, true, "stride");
        feed(c, 40);
        assertArrayEquals(new int[]{0, 1}, c.sinkPositions(0, 0));
        assertArrayEquals(new int[]{36, 37, 38, 39}, c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{29, 31, 33, 35}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{17, 21, 25, 27}, c.heldPositions(0, 0, 2));
    }

    @Test
    void fourCascadesAfterOneHundredTokens() {                                         // spec 8.9
        CascadingCache c = cache(0, 16, 4, true, "stride");
        feed(c, 100);
        assertArrayEquals(range(96, 99), c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{89, 91, 93, 95}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{75, 79, 83, 87}, c.heldPositions(0, 0, 2));
        assertArrayEquals(new int[]{51, 59, 67, 71}, c.heldPositions(0, 0, 3));
    }

    @Test
    void eagerFillKeepsEveryTokenWhileTheDocumentFits() {                              // spec 8.9
        CascadingCache c = cache(4, 32, 4, true, "stride");
        feed(c, 36);
        assertArrayEquals(range(28, 35), c.heldPositions(0, 0, 0));
        assertArrayEquals(range(20, 27), c.heldPositions(0, 0, 1));
        assertArrayEquals(range(12, 19), c.heldPositions(0, 0, 2));
        assertArrayEquals(range(4, 11), c.heldPositions(0, 0, 3));
        c = cache(4, 32, 4, true, "stride");
        feed(c, 38);
        assertArrayEquals(range(30, 37), c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{21, 22, 23, 24, 25, 26, 27, 29}, c.heldPositions(0, 0, 1));
        assertArrayEquals(range(13, 20), c.heldPositions(0, 0, 2));
        assertArrayEquals(range(5, 12), c.heldPositions(0, 0, 3));
    }

    @Test
    void withoutEagerFillLaterCascadesStartEmpty() {                                   // spec 8.9
        CascadingCache c = cache(4, 32, 4, false, "stride");
        feed(c, 36);
        assertArrayEquals(range(28, 35), c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{13, 15, 17, 19, 21, 23, 25, 27}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{7, 11}, c.heldPositions(0, 0, 2));
        assertArrayEquals(new int[]{}, c.heldPositions(0, 0, 3));
    }

    @Test
    void scoresDecideWhichTokenKeepsTheNewestSlot() {                                  // spec 8.9
        CascadingCache c = cache(0, 8, 2, false, "score");
        feed(c, 60, t -> t == 37 || t == 50 ? 1 : 0);
        assertArrayEquals(new int[]{49, 50, 53, 55}, c.heldPositions(0, 0, 1));
        c = cache(0, 8, 2, false, "score");
        feed(c, 60);
        assertArrayEquals(new int[]{49, 51, 53, 55}, c.heldPositions(0, 0, 1));
        c = cache(0, 8, 2, false, "score");
        feed(c, 20, t -> -t);
        assertArrayEquals(new int[]{8, 10, 12, 14}, c.heldPositions(0, 0, 1));
    }

    @Test
    void pseudoRandomScoresOverTwoHundredTokens() {                                    // spec 8.9
        CascadingCache c = cache(4, 32, 4, true, "score");
        feed(c, 200, g -> ((7919 * g) % 101) / 100.0);
        assertArrayEquals(range(192, 199), c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{177, 179, 181, 182, 184, 187, 189, 191}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{145, 150, 155, 157, 160, 165, 169, 172}, c.heldPositions(0, 0, 2));
        assertArrayEquals(new int[]{91, 96, 103, 113, 123, 128, 133, 140}, c.heldPositions(0, 0, 3));
        c = cache(4, 32, 4, true, "score");
        feed(c, 200);
        assertArrayEquals(range(192, 199), c.heldPositions(0, 0, 0));
        assertArrayEquals(new int[]{177, 179, 181, 183, 185, 187, 189, 191}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{147, 151, 155, 159, 163, 167, 171, 175}, c.heldPositions(0, 0, 2));
        assertArrayEquals(new int[]{91, 99, 107, 115, 123, 131, 139, 143}, c.heldPositions(0, 0, 3));
    }

    @Test
    void horizonOfFourCascades() {                                                     // spec 8.5
        CascadingCache c = cache(0, 256, 4, true, "stride");
        feed(c, 100_000);
        int[] oldest = IntStream.range(0, 4).map(k -> c.heldPositions(0, 0, k)[0]).toArray();
        assertArrayEquals(new int[]{99_936, 99_809, 99_555, 99_047}, oldest);
    }

    @Test
    void horizonStaysWithinTheSpecBounds() {                                           // spec 8.10
        int[][] configs = {{4, 64}, {8, 16}, {1, 32}};
        for (int[] cw : configs) {
            int cascades = cw[0], w = cw[1];
            CascadingCache c = cache(0, cascades * w, cascades, true, "stride");
            long low = (long) (w - 1) * ((1L << cascades) - 1) + 1;
            long high = (long) (w - 1) * ((1L << cascades) - 1) + (1L << (cascades - 1));
            if (cascades == 1) low = high = w;
            int warm = (int) (4 * high);
            for (long t = 0; t < warm + 3 * (1L << cascades); t++) {
                float[] kv = {t, t};
                c.insert(0, t, kv, kv, 0, new float[1]);
                if (t >= warm) {
                    long span = t + 1 - c.heldPositions(0, 0, cascades - 1)[0];
                    assertTrue(span >= low && span <= high, "C=" + cascades + " W=" + w + " N=" + (t + 1)
                            + ": N − oldest = " + span + " outside [" + low + ", " + high + "]");
                }
            }
        }
    }

    @Test
    void attentionPositionsFollowAgeOrder() {                                          // spec 8.11
        CascadingCache c = cache(0, 16, 4, true, "stride");
        float[] kv = new float[100 * HEAD_DIM];
        c.append(0, kv, kv, 100);
        c.commit(100);
        assertEquals(16, c.rows());
        int[] positions = new int[16];
        c.positions(0, 0, positions);
        assertArrayEquals(range(0, 15), positions);
        assertEquals(16, c.nextPosition());
        // Rows are read oldest first: 51, 59, 67, 71, 75, … 95, 96 … 99.
        float[] keys = new float[16 * HEAD_DIM], values = new float[16 * HEAD_DIM];
        CascadingCache d = cache(0, 16, 4, true, "stride");
        float[] tokens = new float[100 * HEAD_DIM];
        for (int t = 0; t < 100; t++) tokens[t * HEAD_DIM] = t;
        d.append(0, tokens, tokens, 100);
        d.commit(100);
        d.read(0, 0, keys, values);
        int[] order = IntStream.range(0, 16).map(i -> (int) keys[i * HEAD_DIM]).toArray();
        assertArrayEquals(new int[]{51, 59, 67, 71, 75, 79, 83, 87, 89, 91, 93, 95, 96, 97, 98, 99}, order);
    }

    @Test
    void originalPositionsAreTheDocumentsOwn() {
        CacheSettings s = CacheSettings.from(Map.of("cache-size", "16", "cascades", "4", "sinks", "2",
                "select", "stride", "positions", "original"));
        CascadingCache c = new CascadingCache(1, 1, 1, HEAD_DIM, s);
        float[] kv = new float[100 * HEAD_DIM];
        c.append(0, kv, kv, 100);
        c.commit(100);
        int[] positions = new int[c.rows()];
        c.positions(0, 0, positions);
        assertEquals(0, positions[0]);
        assertEquals(1, positions[1]);
        assertEquals(99, positions[positions.length - 1]);
        assertEquals(100, c.nextPosition());
    }

    @Test
    void headsShareSlotBookkeepingButKeepTheirOwnTokens() {                            // spec 8.12
        CascadingCache c = cache(0, 8, 2, false, "score", 2, 2);
        for (long t = 0; t < 44; t++) {
            float[] kv = {t, t, t, t};
            // Head 0 favours position 36; head 1 sees equal scores, so the newer token wins its ties.
            c.insert(0, t, kv, kv, 0, new float[]{t == 36 ? 1 : 0, 0});
        }
        assertArrayEquals(c.heldPositions(0, 0, 0), c.heldPositions(0, 1, 0));
        // Expected lists from an independent Python simulation of §2.
        assertArrayEquals(new int[]{33, 35, 36, 39}, c.heldPositions(0, 0, 1));
        assertArrayEquals(new int[]{33, 35, 37, 39}, c.heldPositions(0, 1, 1));
    }

    @Test
    void strideAndTokenByTokenInsertionHoldTheSamePositions() {                        // spec 8.7
        for (int stride : new int[]{1, 7, 512}) {
            CascadingCache c = cache(4, 64, 4, true, "stride");
            float[] kv = new float[stride * HEAD_DIM];
            int total = 3000;
            for (int done = 0; done < total; done += stride) {
                int n = Math.min(stride, total - done);
                c.append(0, kv, kv, n);
                c.commit(n);
            }
            CascadingCache reference = cache(4, 64, 4, true, "stride");
            feed(reference, total);
            for (int k = 0; k < 4; k++) {
                assertArrayEquals(reference.heldPositions(0, 0, k), c.heldPositions(0, 0, k), "stride " + stride);
            }
        }
    }

    @Test
    void memoryIsFixedOnceAllocated() {                                                // spec 8.8
        CascadingCache c = cache(4, 64, 4, true, "score");
        long before = c.bytes();
        feed(c, 10_000, t -> Math.sin(t));
        assertEquals(before, c.bytes());
        assertEquals(68L * (2 * HEAD_DIM * 4 + 8) + 68 * 4 + 2 * 4 * 4 + 4, before);
    }

    /** Fills a score request as the attention kernel would, for probabilities {@code p(i, j)} of one head. */
    static void attend(CascadingCache c, int n, java.util.function.IntBinaryOperator never, PBySlot p) {
        AttentionScores req = c.scoreRequest(0, n);
        int rows = c.rows(), keys = rows + n;
        for (int h = 0; h < req.out().length / keys; h++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < keys; j++) {
                    if (j >= rows && j - rows > i) continue;      // causal inside the chunk
                    double w = j < rows ? req.weightByQuery()[i] : req.weightByDistance()[i - (j - rows)];
                    req.out()[h * keys + j] += (float) (w * p.of(i, j));
                }
            }
        }
    }

    interface PBySlot {
        double of(int query, int key);
    }

    @Test
    void scoreIsTheMovingAverageOfAttention() {                                        // spec 8.14
        double beta = 0.9;
        CacheSettings s = CacheSettings.from(Map.of("cache-size", "64", "cascades", "1", "sinks", "0",
                "ema-beta", "" + beta));
        CascadingCache c = new CascadingCache(1, 1, 1, HEAD_DIM, s);
        double a = 0.25;
        float[] kv = new float[HEAD_DIM];
        for (int t = 0; t < 10; t++) {                      // one query per step, attention a to every key
            attend(c, 1, null, (i, j) -> a);
            c.append(0, kv, kv, 1);
            c.commit(1);
        }
        float[] scores = c.heldScores(0, 0, 0);
        for (int j = 0; j < 10; j++) {
            int steps = 10 - j;                              // token j was attended in steps j .. 9
            assertEquals((1 - Math.pow(beta, steps)) * a, scores[j], 1e-6, "token " + j);
        }
        // One stride of ten queries gives the same scores as ten single steps.
        CascadingCache strided = new CascadingCache(1, 1, 1, HEAD_DIM, s);
        float[] chunk = new float[10 * HEAD_DIM];
        attend(strided, 10, null, (i, j) -> a);
        strided.append(0, chunk, chunk, 10);
        strided.commit(10);
        assertArrayEquals(scores, strided.heldScores(0, 0, 0), 1e-6f);
    }

    @Test
    void aStronglyAttendedTokenBeatsItsNewerRival() {                                 // spec 8.6
        // With one sink, token 9 (n = 8) enters cascade 1 on a beat at step 13; token 10 arrives off-beat
        // at step 14 and competes with it for the newest slot.
        assertTrue(keepsAt(1000, 16, 1, 9), "while 9 draws attention it keeps its slot against 10");
        assertFalse(keepsAt(1000, 16, 1, 10));
        assertTrue(keepsAt(0, 16, 1, 10), "with equal attention the newer token 10 wins the tie");
        assertFalse(keepsAt(0, 16, 1, 9));
    }

    @Test
    void decayLetsAFormerlyAttendedTokenLoseALaterCompetition() {                     // spec 8.6
        // Token 9 reaches cascade 2 on a beat at step 21 and meets a rival off-beat at step 23. Still
        // attended, it wins; attention stopped at step 15, its EMA has decayed (β = 0.5) below the
        // rival's, which kept drawing a little, and it is dropped.
        assertTrue(keepsAt(1000, 22, 2, 9) && keepsAt(15, 22, 2, 9), "9 enters cascade 2 on its beat either way");
        assertTrue(keepsAt(1000, 30, 2, 9), "still attended: 9 stays");
        assertFalse(keepsAt(15, 30, 2, 9), "attention faded: 9 lost to a newer token");
        assertTrue(keepsAt(15, 16, 1, 9), "before fading it had beaten its rival in cascade 1");
    }

    private static final int STAR = 9;

    /**
     * Single-token steps through a cache with C = 3, W = 4, one sink, β = 0.5, eager fill off: token 9
     * draws attention 1 until step {@code stop}, every other key 0.01. Whether {@code position} is in
     * {@code cascade} once {@code tokens} tokens are in.
     */
    private static boolean keepsAt(int stop, int tokens, int cascade, int position) {
        CacheSettings s = CacheSettings.from(Map.of("cache-size", "12", "cascades", "3", "sinks", "1",
                "eager-fill", "false", "ema-beta", "0.5"));
        CascadingCache c = new CascadingCache(1, 1, 1, HEAD_DIM, s);
        float[] kv = {0, 0};
        for (int t = 0; t < tokens; t++) {
            final int now = t;
            attend(c, 1, null, (i, j) -> heldAt(c, j) == STAR ? (now < stop ? 1.0 : 0.0) : 0.01);
            c.append(0, kv, kv, 1);
            c.commit(1);
        }
        return keeps(c, cascade, position);
    }

    private static boolean keeps(CascadingCache c, int cascade, int position) {
        return java.util.Arrays.stream(c.heldPositions(0, 0, cascade)).anyMatch(p -> p == position);
    }

    /** Document position of the key at attention row j (cached rows first, then the new token). */
    private static int heldAt(CascadingCache c, int j) {
        if (j >= c.rows()) return (int) c.tokensSeen();
        return c.store.positions[0][0][c.order[j]];
    }
}
