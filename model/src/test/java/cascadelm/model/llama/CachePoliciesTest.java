package cascadelm.model.llama;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.Caches;
import cascadelm.model.cache.CascadingCache;
import cascadelm.model.cache.FullCache;
import cascadelm.model.cache.KvCache;
import cascadelm.model.cache.SinkCache;
import cascadelm.model.cache.SlidingWindowCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cache policies inside the model: the special cases of cascade-spec §6 and fixed memory (§8). */
class CachePoliciesTest {
    @TempDir
    static Path dir;
    static LlamaModel model;
    static CpuBackend backend;
    static TinyModel tiny;

    @BeforeAll
    static void open() throws Exception {
        tiny = new TinyModel("llama", 32, 2, 4, 2, 8, 48, false, 21);
        model = LlamaModel.open(tiny.write(dir));
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
    }

    private static CacheSettings settings(String... kv) {
        Map<String, String> m = new java.util.HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return CacheSettings.from(m);
    }

    private static KvCache cache(CacheSettings s) {
        ModelConfig c = model.config();
        return Caches.create(s, c.layers(), c.heads(), c.kvHeads(), c.headDim(), 64);
    }

    private static int[] prompt(int n, long seed) {
        return new Random(seed).ints(n, 0, tiny.vocab - 1).toArray();
    }

    private static int[] greedy(KvCache cache, int stride, int[] prompt, int tokens) {
        Session s = new Session(model, backend, cache, stride);
        return Generator.generate(s, prompt, Sampler.greedy(), tokens, Set.of(), t -> { }).tokens();
    }

    /** Every position's logits when {@code prompt} is read in chunks of {@code stride}. */
    private static float[][] logits(KvCache cache, int stride, int[] prompt) {
        Session s = new Session(model, backend, cache, stride);
        int vocab = model.config().vocabularySize();
        float[][] out = new float[prompt.length][vocab];
        float[] chunk = new float[stride * vocab];
        for (int start = 0; start < prompt.length; start += stride) {
            int n = Math.min(stride, prompt.length - start);
            s.forward(prompt, start, n, chunk);
            for (int i = 0; i < n; i++) System.arraycopy(chunk, i * vocab, out[start + i], 0, vocab);
        }
        return out;
    }

    @Test
    void aDocumentThatFitsIsReadAsWithFullAttention() {                                  // spec 8.3, 8.13
        int[] p = prompt(30, 1);
        CacheSettings cascade = settings("cache-size", "64", "cascades", "4", "sinks", "4", "stride", "8");
        float[][] expected = logits(new FullCache(2, 2, 8, 30), 30, p);
        float[][] actual = logits(cache(cascade), 8, p);
        for (int t = 0; t < p.length; t++) {
            for (int j = 0; j < expected[t].length; j++) {
                assertEquals(expected[t][j], actual[t][j], 1e-4 * Math.max(1, Math.abs(expected[t][j])), "position " + t);
            }
        }
        // 30 + 30 tokens ≤ S + M = 68: the greedy continuation is token for token the full-attention one.
        assertArrayEquals(greedy(new FullCache(2, 2, 8, 60), 30, p, 30), greedy(cache(cascade), 8, p, 30));
    }

    @Test
    void oneCascadeWithoutSinksIsTheSlidingWindow() {                                    // spec §6
        int[] p = prompt(200, 2);
        CacheSettings oneCascade = settings("cache-size", "16", "cascades", "1", "sinks", "0", "select", "stride");
        float[][] window = logits(new SlidingWindowCache(2, 2, 8, 16, false), 5, p);
        float[][] cascade = logits(cache(oneCascade), 5, p);
        for (int t = 0; t < p.length; t++) assertSameLogits(window[t], cascade[t], t);
        assertArrayEquals(greedy(new SlidingWindowCache(2, 2, 8, 16, false), 5, p, 40), greedy(cache(oneCascade), 5, p, 40));
    }

    @Test
    void oneCascadeWithSinksIsStreamingLlm() {                                           // spec §6
        int[] p = prompt(200, 3);
        CacheSettings oneCascade = settings("cache-size", "16", "cascades", "1", "sinks", "4");
        assertArrayEquals(greedy(new SinkCache(2, 2, 8, 4, 16, false), 7, p, 40), greedy(cache(oneCascade), 7, p, 40));
        float[][] sink = logits(new SinkCache(2, 2, 8, 4, 16, false), 7, p);
        float[][] cascade = logits(cache(oneCascade), 7, p);
        for (int t = 0; t < p.length; t++) assertSameLogits(sink[t], cascade[t], t);
    }

    @Test
    void boundedPoliciesForgetWhatFullAttentionKeeps() {
        // The counterpart of the equivalences above: once the document outgrows the cache, the policies differ.
        int[] p = prompt(120, 4);
        float[] full = logits(new FullCache(2, 2, 8, 120), 8, p)[119];
        float[] window = logits(new SlidingWindowCache(2, 2, 8, 16, false), 8, p)[119];
        float[] cascade = logits(cache(settings("cache-size", "16", "cascades", "4", "sinks", "4")), 8, p)[119];
        assertTrue(maxDiff(full, window) > 1e-3 && maxDiff(window, cascade) > 1e-3 && maxDiff(full, cascade) > 1e-3);
    }

    @Test
    void strideOneAndStride512HoldTheSameTokens() {                                      // spec 8.7
        int[] p = prompt(3000, 5);
        CacheSettings s = settings("cache-size", "64", "cascades", "4", "sinks", "4", "select", "stride");
        CascadingCache one = (CascadingCache) cache(s), big = (CascadingCache) cache(s);
        logitsOfLast(one, 1, p);
        logitsOfLast(big, 512, p);
        for (int layer = 0; layer < 2; layer++) {
            for (int head = 0; head < 2; head++) {
                for (int c = 0; c < 4; c++) {
                    assertArrayEquals(one.heldPositions(layer, head, c), big.heldPositions(layer, head, c));
                }
            }
        }
    }

    @Test
    void snapshotCopiesContinueIndependently() {
        int[] p = prompt(100, 6);
        CacheSettings s = settings("cache-size", "32", "cascades", "2", "sinks", "4", "stride", "16");
        KvCache read = cache(s);
        Session session = new Session(model, backend, read, 16);
        Generator.prefill(session, p);
        KvCache snapshot = read.copy();
        int[] first = greedy(snapshot.copy(), 16, new int[]{7, 8, 9}, 10);
        int[] again = greedy(snapshot.copy(), 16, new int[]{7, 8, 9}, 10);
        assertArrayEquals(first, again, "a copy of the snapshot answers the same way every time");
        assertEquals(100, snapshot.tokensSeen(), "continuing a copy leaves the snapshot as it was");
    }

    @Test
    void aMillionTokenStreamKeepsTheCacheFootprint() {                                   // issue: 1M tokens, bytes
        CacheSettings s = settings("cache-size", "64", "cascades", "4", "sinks", "4", "stride", "1024");
        KvCache cache = cache(s);
        Session session = new Session(model, backend, cache, 1024);
        int[] chunk = prompt(1024, 7);
        long allocated = cache.bytes();
        long tokens = 0;
        while (tokens < 1_000_000) {
            session.forward(chunk, 0, 1024, null);
            tokens += 1024;
            assertEquals(allocated, cache.bytes(), "after " + tokens + " tokens");
        }
        assertEquals(tokens, cache.tokensSeen());
        assertEquals(68, cache.rows());
        // sinks + size rows per layer and KV head: keys and values of 8 floats, a position and a score.
        assertEquals(2L * 2 * 68 * (2 * 8 * 4 + 4 + 4) + 68 * 4 + 2 * 4 * 4 * 2 + 2 * 4, allocated);
    }

    /**
     * The same rows in the same order go through the same kernels, so the logits agree to float32 rounding (1e-4, as against the references);
     * not bit for bit, because the JIT's compiled exp and sums may round differently from the interpreter's
     * between the two runs.
     */
    private static void assertSameLogits(float[] expected, float[] actual, int position) {
        for (int j = 0; j < expected.length; j++) {
            assertEquals(expected[j], actual[j], 1e-4f * Math.max(1f, Math.abs(expected[j])), "position " + position);
        }
    }

    private static void logitsOfLast(KvCache cache, int stride, int[] p) {
        Session s = new Session(model, backend, cache, stride);
        Generator.prefill(s, p);
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
