package cascadelm.model.cuda;

import cascadelm.kernels.Rope;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.GpuTest;
import cascadelm.model.cache.CacheSettings;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoding's one-kernel attention (decode.cu's attn_decode, {@link SplitKAttention#decode}) against float64 on the
 * host: a device cache of one layer filled by its own update kernels with random bf16 rows in chunks (so rings wrap
 * and evict), a random QKV row and bias; the reference reads the held rows and positions back, rotates keys at their
 * rank or document position (and the query at the step's position) with the angles the kernels use, and takes the
 * softmax in float64. Checked: the output (outputs NaN-poisoned first), the token's bf16 key and value rows for the
 * cache update (exact), and with scores the raw scores, each head's (max, sum) and the score sums; a second launch
 * gives the same bits (the kernel resets its merge counters). Shapes cover the instances (heads per group 1, 3 → 4,
 * 4, 8; head dimensions 32 … 256, both rotary layouts), split counts from 1 to more splits than keys (empty splits),
 * every policy, rotary angles from the table and beyond it. Skipped where no CUDA driver and GPU are present.
 */
@GpuTest
class DecodeAttentionTest {

    record Case(String policy, int heads, int kvHeads, int headDim, boolean neox, boolean original, int tokens, int chunk,
                int splits) {
        @Override
        public String toString() {
            return policy + (original ? " original positions" : "") + ", " + heads + "/" + kvHeads + " heads of " + headDim
                    + (neox ? " neox" : "") + ", " + tokens + " tokens in chunks of " + chunk + ", " + splits + " splits";
        }
    }

    static List<Case> cases() {
        return List.of(
                new Case("cascade-stride", 8, 2, 64, false, false, 200, 7, 3),
                new Case("full", 6, 2, 128, true, false, 150, 16, 5),
                new Case("cascade", 8, 1, 256, false, true, 60, 9, 128),
                new Case("sink", 4, 4, 32, false, false, 90, 5, 1),
                new Case("window", 16, 2, 64, true, false, 120, 11, 17),
                new Case("cascade", 8, 2, 64, false, false, 300, 8, 25));
    }

    private static CacheSettings settings(String policy, boolean original) {
        Map<String, String> m = new HashMap<>();
        m.put("cache", policy.startsWith("cascade") ? "cascade" : policy);
        m.put("cache-size", "48");
        m.put("cascades", "3");
        m.put("sinks", policy.equals("window") ? "0" : "4");
        m.put("stride", "8");
        m.put("ema-beta", "0.9");
        if (policy.equals("cascade-stride")) m.put("select", "stride");
        if (original) m.put("positions", "original");
        return CacheSettings.from(m);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesFloat64(Case t, CudaBackend gpu) {
        CudaDevice d = gpu.device();
        int h = t.heads(), g = t.kvHeads(), hd = t.headDim(), group = h / g, pairs = hd / 2;
        Random random = new Random(t.hashCode());
        CacheSettings s = settings(t.policy(), t.original());
        DeviceKvCache cache = DeviceKvCache.create(gpu, s, 1, h, g, hd, t.tokens() + 1);
        Rope rope = Rope.standard(hd, 10000, t.neox());
        int tablePositions = t.tokens() / 2;   // later positions: angles formed in the kernel
        int qkvWidth = h * hd + 2 * g * hd;
        long rawStride = cache.slots() + 1;
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer freqs = d.uploadNew(rope.inverseFrequencies());
             DeviceBuffer cos = d.allocFloats((long) tablePositions * pairs);
             DeviceBuffer sin = d.allocFloats((long) tablePositions * pairs);
             DeviceBuffer counters = d.alloc(4L * g);
             DeviceBuffer partial = d.allocFloats((long) g * t.splits() * group * (hd + 2));
             DeviceBuffer kNew = d.alloc(2L * g * hd);
             DeviceBuffer vNew = d.alloc(2L * g * hd);
             DeviceBuffer out = d.allocFloats((long) h * hd);
             DeviceBuffer raw = d.allocFloats(h * rawStride);
             DeviceBuffer stats = d.allocFloats(2L * h);
             DeviceBuffer sums = d.allocFloats(g * rawStride);
             DeviceBuffer weights = d.uploadNew(new float[]{0.1f, 0.3f})) {
            gpu.kernels().ropeTable(cos.address(), sin.address(), freqs.address(), pairs, 0, tablePositions);
            d.fill32(counters.address(), 0, g);
            // The cache, filled by its own update kernels with random rows (score sums random where it scores).
            for (int at = 0; at < t.tokens(); at += t.chunk()) {
                int n = Math.min(t.chunk(), t.tokens() - at);
                cache.reserve(n);
                int rows = cache.rows();
                try (DeviceBuffer k = DeviceCacheCrossCheck.randomBf16(d, arena, (long) g * n * hd, random.nextLong());
                     DeviceBuffer v = DeviceCacheCrossCheck.randomBf16(d, arena, (long) g * n * hd, random.nextLong());
                     DeviceBuffer chunkSums = d.uploadNew(uniform(random, g * (rows + n)))) {
                    cache.enqueueUpdate(k.address(), v.address(), cache.scored ? chunkSums.address() : 0, n);
                    cache.advance(n);
                    d.synchronize();
                }
            }
            float[] qkv = gaussian(random, qkvWidth), bias = gaussian(random, qkvWidth);
            try (DeviceBuffer dq = d.uploadNew(qkv); DeviceBuffer db = d.uploadNew(bias)) {
                SplitKAttention a = new SplitKAttention(h, g, hd, t.neox(), freqs.address(), cos.address(), sin.address(),
                        tablePositions, t.splits(), raw.address(), rawStride, partial.address(), stats.address());
                float scale = (float) (1 / Math.sqrt(hd));
                int rows = cache.rows(), pos0 = cache.nextPosition();
                float[][] first = null;
                for (int launch = 0; launch < 2; launch++) {
                    for (DeviceBuffer b : new DeviceBuffer[]{out, raw, stats, sums, kNew, vNew}) {
                        d.fill32(b.address(), 0x7FC00000, b.bytes() / 4);
                    }
                    a.decode(d, cache, 0, dq.address(), db.address(), kNew.address(), vNew.address(), out.address(), scale,
                            counters.address(), cache.scored ? sums.address() : 0, weights.address(),
                            weights.address() + 4);
                    float[][] got = {read(d, out, h * hd), read(d, kNew, g * hd / 2), read(d, vNew, g * hd / 2),
                            read(d, raw, (int) (h * rawStride)), read(d, stats, 2 * h), read(d, sums, (int) (g * rawStride))};
                    if (first == null) {
                        first = got;
                        check(t, cache, rope, qkv, bias, scale, rows, pos0, got);
                    } else {
                        for (int i = 0; i < got.length; i++) {
                            assertArrayEquals(bits(first[i]), bits(got[i]), t + ": a second launch gives other results");
                        }
                    }
                }
                int[] left = new int[g];
                d.download(counters.address(), left, 0, g);
                assertArrayEquals(new int[g], left, t + ": merge counters reset");
            }
        } finally {
            cache.release();
        }
    }

    private static void check(Case t, DeviceKvCache cache, Rope rope, float[] qkv, float[] bias, float scale, int rows,
                              int pos0, float[][] got) {
        int h = t.heads(), g = t.kvHeads(), hd = t.headDim(), group = h / g, half = hd / 2;
        int qDim = h * hd, kvDim = g * hd;
        long rawStride = cache.slots() + 1;
        float[] out = got[0], raw = got[3], stats = got[4], sums = got[5];
        for (int gg = 0; gg < g; gg++) {
            int[] positions = cache.documentPositions(0, gg);
            assertEquals(rows, positions.length, t + ": rows held");
            float[] keys = cache.rowsInAttentionOrder(0, gg, false), values = cache.rowsInAttentionOrder(0, gg, true);
            // The token's own rows: bias added, rounded to bf16 as the cache stores them; exact.
            float[] kTok = new float[hd], vTok = new float[hd];
            for (int e = 0; e < hd; e++) {
                int kc = qDim + gg * hd + e, vc = qDim + kvDim + gg * hd + e;
                kTok[e] = bf16(qkv[kc] + bias[kc]);
                vTok[e] = bf16(qkv[vc] + bias[vc]);
                assertEquals(kTok[e], word(got[1], gg * hd + e), t + ": token key row, KV head " + gg + ", element " + e);
                assertEquals(vTok[e], word(got[2], gg * hd + e), t + ": token value row, KV head " + gg + ", element " + e);
            }
            int nk = rows + 1;
            double[] sumRef = new double[nk];
            for (int hh = 0; hh < group; hh++) {
                int head = gg * group + hh;
                double[] q = new double[hd];
                for (int e = 0; e < hd; e++) q[e] = qkv[head * hd + e] + bias[head * hd + e];
                q = rotate(q, pos0, rope, t.neox());
                double[] score = new double[nk], size = new double[nk];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < nk; j++) {
                    double[] k = new double[hd];
                    for (int e = 0; e < hd; e++) k[e] = j < rows ? keys[j * hd + e] : kTok[e];
                    int position = j == rows ? pos0 : t.original() ? positions[j] : j;
                    k = rotate(k, position, rope, t.neox());
                    for (int e = 0; e < hd; e++) {
                        score[j] += q[e] * k[e] * scale;
                        size[j] += Math.abs(q[e] * k[e] * scale);
                    }
                    max = Math.max(max, score[j]);
                }
                double sum = 0;
                for (int j = 0; j < nk; j++) sum += Math.exp(score[j] - max);
                for (int e = 0; e < hd; e++) {
                    double o = 0, b = 0;
                    for (int j = 0; j < nk; j++) {
                        double v = j < rows ? values[j * hd + e] : vTok[e];
                        double p = Math.exp(score[j] - max) / sum;
                        o += p * v;
                        b += p * Math.abs(v);
                    }
                    float a = out[head * hd + e];
                    assertTrue(Math.abs(a - o) <= 2e-5 * b + 1e-6, t + ": head " + head + " element " + e + " is " + a
                            + ", float64 " + o);
                }
                if (!cache.scored) continue;
                for (int j = 0; j < nk; j++) {
                    float a = raw[(int) (head * rawStride) + j];
                    assertTrue(Math.abs(a - score[j]) <= 2e-5 * size[j] + 1e-6, t + ": raw score " + j + " of head " + head
                            + " is " + a + ", float64 " + score[j]);
                    double w = (j < rows ? 0.1f : 0.3f) * Math.exp(score[j] - max) / sum;
                    sumRef[j] = cache.meanReduction ? sumRef[j] + w / group : Math.max(sumRef[j], w);
                }
                assertEquals(max, stats[2 * head], 2e-5 * Math.abs(max) + 1e-5, t + ": max of head " + head);
                assertEquals(sum, stats[2 * head + 1], 1e-5 * sum, t + ": sum of head " + head);
            }
            if (!cache.scored) continue;
            for (int j = 0; j < nk; j++) {
                float a = sums[gg * nk + j];
                assertEquals(sumRef[j], a, 1e-4 * sumRef[j] + 1e-9, t + ": score sum of key " + j + ", KV head " + gg);
            }
        }
    }

    /** A head's vector rotated at {@code position} with the angles the kernels use (double, rounded to float). */
    private static double[] rotate(double[] x, int position, Rope rope, boolean neox) {
        int half = x.length / 2;
        double[] out = x.clone();
        for (int p = 0; p < half; p++) {
            double angle = (double) position * (double) rope.inverseFrequencies()[p];
            double c = (float) Math.cos(angle), s = (float) Math.sin(angle);
            int a = neox ? p : 2 * p, b = neox ? p + half : 2 * p + 1;
            out[a] = x[a] * c - x[b] * s;
            out[b] = x[a] * s + x[b] * c;
        }
        return out;
    }

    private static float bf16(float f) {
        return Float.intBitsToFloat(DeviceCacheCrossCheck.bf16(f) << 16);
    }

    /** bf16 element i of words read back as floats (two per word, little-endian). */
    private static float word(float[] words, int i) {
        int bits = Float.floatToRawIntBits(words[i / 2]);
        return Float.intBitsToFloat(i % 2 == 0 ? bits << 16 : bits & 0xFFFF0000);
    }

    private static float[] read(CudaDevice d, DeviceBuffer b, int floats) {
        float[] out = new float[floats];
        d.download(b.address(), out, 0, floats);
        return out;
    }

    private static int[] bits(float[] a) {
        int[] out = new int[a.length];
        for (int i = 0; i < a.length; i++) out[i] = Float.floatToRawIntBits(a[i]);
        return out;
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static float[] uniform(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat();
        return a;
    }
}
