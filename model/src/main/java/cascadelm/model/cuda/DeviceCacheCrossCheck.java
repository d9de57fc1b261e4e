package cascadelm.model.cuda;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Rope;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.DeviceCascadeCache;
import cascadelm.kernels.cuda.FlashAttention;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.CascadingCache;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Runs the device cascading cache ({@link DeviceCascadeCache}) and the Java {@link CascadingCache} side by side
 * on one small configuration: random bf16 queries and keys go through the device kernels (gather with rotary
 * positions, flash attention, §4 score sums); both caches then take the same score sums (the device's, given to
 * the Java cache for every query head of each group) and the stride's tokens. After every stride the document
 * positions held by every cascade and by the sinks, per KV head, must be identical.
 */
public final class DeviceCacheCrossCheck {
    /** A configuration: sinks S, cache size M in C cascades, eager fill, score or stride selection, β, tokens, stride. */
    public record Config(int sinks, int size, int cascades, boolean eager, boolean byScore, double beta, int tokens,
                         int stride) {
        @Override
        public String toString() {
            return "S=" + sinks + " M=" + size + " C=" + cascades + (eager ? " eager" : "") + (byScore ? " score" : " stride")
                    + " β=" + beta + " " + tokens + " tokens in strides of " + stride;
        }
    }

    /** What was compared and the first difference (null when none). */
    public record Result(int strides, int comparisons, String firstDifference) {
    }

    private DeviceCacheCrossCheck() {
    }

    public static Result run(FlashAttention fa, Path kernelDir, Config cf, long seed) {
        return run(fa, kernelDir, cf, seed, 64, 1, false);
    }

    /**
     * As {@link #run(FlashAttention, Path, Config, long)} with head dimension {@code hd} (64 or 128: 128 runs the
     * Hopper attention kernel where the device has it) and the device cache's score sums computed as
     * {@link DeviceCascadeCache#scoreSampling} says (the Java cache takes the device's sums either way).
     */
    public static Result run(FlashAttention fa, Path kernelDir, Config cf, long seed, int hd, int queryStep,
                             boolean skipSettled) {
        CudaDevice d = fa.device();
        int h = 4, g = 2;
        CacheSettings settings = CacheSettings.from(Map.of("cache", "cascade", "sinks", "" + cf.sinks(),
                "cache-size", "" + cf.size(), "cascades", "" + cf.cascades(), "eager-fill", "" + cf.eager(),
                "select", cf.byScore() ? "score" : "stride", "ema-beta", "" + cf.beta(), "head-reduction", "max"));
        CascadingCache cpu = new CascadingCache(1, g, h, hd, settings);
        Rope rope = Rope.standard(hd, 10000, false);
        int strides = 0, comparisons = 0;
        try (Arena arena = Arena.ofConfined();
             DeviceCascadeCache dev = new DeviceCascadeCache(fa, kernelDir, h, g, hd, cf.sinks(), cf.size(), cf.cascades(),
                     cf.stride(), cf.beta(), cf.byScore(), cf.eager(), rope.inverseFrequencies(), false)
                     .scoreSampling(queryStep, skipSettled);
             DeviceBuffer q = randomBf16(d, arena, (long) h * cf.stride() * hd, seed);
             DeviceBuffer kv = randomBf16(d, arena, (long) g * cf.tokens() * hd, seed + 1)) {
            long kHead = (long) cf.tokens() * hd;
            for (int t0 = 0; t0 < cf.tokens(); t0 += cf.stride(), strides++) {
                int n = Math.min(cf.stride(), cf.tokens() - t0);
                int rows = dev.rows();
                if (rows != cpu.rows()) {
                    return new Result(strides, comparisons, "before token " + t0 + ": " + rows + " rows held, Java " + cpu.rows());
                }
                long k = kv.address() + (long) t0 * hd * 2;
                dev.gather(q.address(), hd, (long) cf.stride() * hd, k, k, hd, kHead, n, rows);
                dev.attend(n, rows);
                AttentionScores req = cpu.scoreRequest(0, n);
                if (cf.byScore()) {
                    dev.scoreSums(n, rows);
                    float[] sums = new float[g * (rows + n)];
                    d.download(dev.sumsAddress(), sums, 0, sums.length);
                    for (int hh = 0; hh < h; hh++) {
                        System.arraycopy(sums, hh / (h / g) * (rows + n), req.out(), hh * (rows + n), rows + n);
                    }
                }
                cpu.append(0, new float[n * g * hd], new float[n * g * hd], n);
                cpu.commit(n);
                dev.update(k, k, hd, kHead, n, rows, cf.byScore() ? (float) Math.pow(cf.beta(), n) : 1f);
                for (int gg = 0; gg < g; gg++) {
                    List<String> diffs = new ArrayList<>();
                    if (!Arrays.equals(dev.sinkPositions(gg), cpu.sinkPositions(0, gg))) diffs.add("sinks");
                    for (int c = 0; c < cf.cascades(); c++) {
                        int[] a = dev.heldPositions(gg, c), b = cpu.heldPositions(0, gg, c);
                        if (!Arrays.equals(a, b)) diffs.add("cascade " + c + " " + Arrays.toString(a) + " vs Java " + Arrays.toString(b));
                    }
                    comparisons++;
                    if (!diffs.isEmpty()) {
                        return new Result(strides + 1, comparisons, "after token " + (t0 + n) + ", KV head " + gg + ": " + diffs);
                    }
                }
            }
        }
        return new Result(strides, comparisons, null);
    }

    /**
     * Two device caches fed the same strides, one with exact score sums, the other with the sums of
     * {@link DeviceCascadeCache#scoreSampling}{@code (queryStep, skipSettled)}: after every stride, the number of
     * held slots (all cascades and KV heads) whose token differs. Returns (strides, slots compared in all, first
     * difference or null); {@code differing} receives the count of differing slots after each stride.
     */
    public static Result compareScoreModes(FlashAttention fa, Path kernelDir, Config cf, long seed, int hd, int queryStep,
                                           boolean skipSettled, List<Integer> differing) {
        CudaDevice d = fa.device();
        int h = 4, g = 2;
        Rope rope = Rope.standard(hd, 10000, false);
        int strides = 0, compared = 0;
        String first = null;
        try (Arena arena = Arena.ofConfined();
             DeviceCascadeCache exact = new DeviceCascadeCache(fa, kernelDir, h, g, hd, cf.sinks(), cf.size(), cf.cascades(),
                     cf.stride(), cf.beta(), cf.byScore(), cf.eager(), rope.inverseFrequencies(), false);
             DeviceCascadeCache other = new DeviceCascadeCache(fa, kernelDir, h, g, hd, cf.sinks(), cf.size(), cf.cascades(),
                     cf.stride(), cf.beta(), cf.byScore(), cf.eager(), rope.inverseFrequencies(), false)
                     .scoreSampling(queryStep, skipSettled);
             DeviceBuffer q = randomBf16(d, arena, (long) h * cf.stride() * hd, seed);
             DeviceBuffer kv = randomBf16(d, arena, (long) g * cf.tokens() * hd, seed + 1)) {
            long kHead = (long) cf.tokens() * hd;
            for (int t0 = 0; t0 < cf.tokens(); t0 += cf.stride(), strides++) {
                int n = Math.min(cf.stride(), cf.tokens() - t0);
                long k = kv.address() + (long) t0 * hd * 2;
                exact.stride(q.address(), hd, (long) cf.stride() * hd, k, k, hd, kHead, n);
                other.stride(q.address(), hd, (long) cf.stride() * hd, k, k, hd, kHead, n);
                int diff = 0;
                for (int gg = 0; gg < g; gg++) {
                    for (int c = 0; c < cf.cascades(); c++) {
                        int[] a = exact.heldPositions(gg, c), b = other.heldPositions(gg, c);
                        compared += a.length;
                        int m = Math.min(a.length, b.length);
                        for (int i = 0; i < m; i++) if (a[i] != b[i]) diff++;
                        diff += Math.abs(a.length - b.length);
                        if (first == null && !Arrays.equals(a, b)) {
                            first = "after token " + (t0 + n) + ", KV head " + gg + ", cascade " + c + ": " + Arrays.toString(b)
                                    + " vs exact " + Arrays.toString(a);
                        }
                    }
                }
                differing.add(diff);
            }
        }
        return new Result(strides, compared, first);
    }

    /** Random bf16 values (Gaussian, rounded to nearest even) uploaded to a new device buffer. */
    public static DeviceBuffer randomBf16(CudaDevice d, Arena arena, long count, long seed) {
        MemorySegment s = arena.allocate(count * 2, 16);
        Random r = new Random(seed);
        for (long i = 0; i < count; i++) s.set(ValueLayout.JAVA_SHORT, 2 * i, bf16((float) r.nextGaussian()));
        DeviceBuffer b = d.alloc(count * 2);
        d.upload(s, count * 2, b.address());
        return b;
    }

    /** float32 to bfloat16 bits, rounded to nearest even (finite inputs). */
    public static short bf16(float f) {
        int x = Float.floatToRawIntBits(f);
        return (short) ((x + 0x7FFF + ((x >>> 16) & 1)) >>> 16);
    }
}
