package cascadelm.bench;

import cascadelm.kernels.Rope;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.DeviceCascadeCache;
import cascadelm.kernels.cuda.FlashAttention;
import cascadelm.model.cuda.DeviceCacheCrossCheck;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Long-context prefill of one attention layer on the GPU, driven from Java through the FFM driver bindings: the
 * Llama-3.1-8B attention shape (32 query heads, 8 KV heads, head dim 128, bf16) with the cascading cache of the
 * paper's passkey runs (65,536 slots in 4 cascades, 64 sinks, stride 4096), everything per stride on the device
 * ({@link DeviceCascadeCache}). First it checks the device cache against the Java CascadingCache fed the
 * same score sums (held positions per KV head and cascade must be equal), then times the kernels at the stride's
 * shape and the whole prefill at each length. Full causal SDPA, the comparison, is measured by
 * {@code sdpa_anchor.py} (or {@code tools/device/cascade_bench.py}) in the same device run (torch has no Java API).
 *
 * <p>Usage: {@code GpuAttentionBenchmark KERNEL_DIR OUT.md [LENGTHS=32768,131072,262144,1048576] [SCORE_STEP=1]};
 * KERNEL_DIR holds flash_attention.ptx, flash_attention_sm90.ptx and cascade_cache.ptx
 * (tools/device/prepare_attn.sh). The prefill runs with the settled entries' score sums skipped (exact for the
 * cache) and sums from every SCORE_STEP-th query ({@link DeviceCascadeCache#scoreSampling}; 1 = exact); with a step
 * above 1 the longest length runs once more with exact sums.
 */
public final class GpuAttentionBenchmark {
    static final int H = 32, G = 8, D = 128, SINKS = 64, SIZE = 65536, CASCADES = 4, STRIDE = 4096;

    private GpuAttentionBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path out = Path.of(args[1]);
        long[] lengths = Arrays.stream((args.length > 2 ? args[2] : "32768,131072,262144,1048576").split(","))
                .mapToLong(Long::parseLong).toArray();
        int scoreStep = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        StringBuilder md = new StringBuilder();
        try (CudaDevice d = CudaDevice.open(0); FlashAttention fa = new FlashAttention(d, dir);
             FlashAttention portable = new FlashAttention(d, dir, false); Arena arena = Arena.ofConfined()) {
            md.append("Device ").append(d.name()).append(", compute capability ").append(d.computeCapability())
                    .append(", driven from Java (FFM); attention kernel for head dim 128: ").append(fa.kernel()).append(".\n\n");
            String check = checkAgainstJavaCache(fa, dir, arena);
            md.append(check).append("\n\n");
            System.out.println(check);
            if (!check.startsWith("PASS")) {
                write(out, md);
                System.exit(1);
            }
            md.append(kernelRates(fa, portable, arena)).append("\n");
            md.append(prefill(fa, dir, arena, lengths, scoreStep));
        }
        write(out, md);
        System.out.println("\n" + md);
    }

    private static void write(Path out, StringBuilder md) throws Exception {
        if (out.toAbsolutePath().getParent() != null) Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md.toString());
    }

    /** Random bf16 values in [-2, 2) (xorshift: fast for hundreds of MB; content does not change the work). */
    static DeviceBuffer randomBf16(CudaDevice d, Arena arena, long count, long seed) {
        MemorySegment s = arena.allocate(count * 2, 16);
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (long i = 0; i < count; i++) {
            x ^= x << 13; x ^= x >>> 7; x ^= x << 17;
            float f = ((x >>> 40) / (float) (1 << 24)) * 4f - 2f;
            s.set(ValueLayout.JAVA_SHORT, 2 * i, DeviceCacheCrossCheck.bf16(f));
        }
        DeviceBuffer b = d.alloc(count * 2);
        d.upload(s, count * 2, b.address());
        return b;
    }

    /** The device cache against the Java cache ({@link DeviceCacheCrossCheck}) on the spec's small configuration. */
    static String checkAgainstJavaCache(FlashAttention fa, Path dir, Arena arena) {
        DeviceCacheCrossCheck.Config cf = new DeviceCacheCrossCheck.Config(4, 32, 4, true, true, 0.9, 300, 7);
        DeviceCacheCrossCheck.Result r = DeviceCacheCrossCheck.run(fa, dir, cf, 1);
        return r.firstDifference() == null
                ? "PASS: device cascade cache = Java CascadingCache (" + cf + "; held positions of every cascade and the"
                  + " sinks of 2 KV heads compared after each of " + r.strides() + " strides; score sums from the device kernels)"
                : "FAIL (" + cf + "): " + r.firstDifference();
    }

    static float medianMs(CudaDevice d, Runnable r, int reps) {
        r.run();
        float[] t = new float[reps];
        for (int i = 0; i < reps; i++) t[i] = d.time(r);
        Arrays.sort(t);
        return t[reps / 2];
    }

    /** TFLOP/s of the attention and score-sum kernels on one stride over a full cache (attended pairs only). */
    static String kernelRates(FlashAttention fa, FlashAttention portable, Arena arena) {
        CudaDevice d = fa.device();
        int nk = SINKS + SIZE + STRIDE, nC = nk - STRIDE;
        double pairs = (double) STRIDE * nC + STRIDE * (STRIDE + 1) / 2.0;
        try (DeviceBuffer q = randomBf16(d, arena, (long) H * STRIDE * D, 3);
             DeviceBuffer k = randomBf16(d, arena, (long) G * nk * D, 4);
             DeviceBuffer v = randomBf16(d, arena, (long) G * nk * D, 5);
             DeviceBuffer o = d.alloc((long) H * STRIDE * D * 2);
             DeviceBuffer lse = d.alloc((long) H * STRIDE * 4);
             DeviceBuffer sums = d.alloc((long) G * nk * 4)) {
            FlashAttention.Tensor tq = FlashAttention.Tensor.packed(q.address(), STRIDE, D);
            FlashAttention.Tensor tk = FlashAttention.Tensor.packed(k.address(), nk, D);
            FlashAttention.Tensor tv = FlashAttention.Tensor.packed(v.address(), nk, D);
            FlashAttention.Tensor to = FlashAttention.Tensor.packed(o.address(), STRIDE, D);
            float scale = (float) (1 / Math.sqrt(D));
            StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "Kernels on one stride (%d queries over %d"
                    + " cached + %d own keys, causal inside the stride; TFLOP/s count attended pairs, 4·H·D each for"
                    + " attention, 2·H·D for score sums):%n%n| kernel | ms | TFLOP/s |%n|---|---:|---:|%n", STRIDE, nC, STRIDE));
            for (FlashAttention f : new FlashAttention[]{portable, fa, portable, fa}) {
                float att = medianMs(d, () -> f.attention(tq, tk, tv, to, false, lse.address(), STRIDE, nk, H, G, D, scale), 9);
                md.append(String.format(Locale.ROOT, "| attention, %s | %.2f | %.0f |%n", f.kernel(), att, 4.0 * H * D * pairs / att / 1e9));
            }
            int settledTo = SINKS + SIZE / CASCADES - 1;
            record Mode(FlashAttention kernel, int step, boolean skip) {
            }
            for (Mode m : new Mode[]{new Mode(portable, 1, false), new Mode(fa, 1, false), new Mode(fa, 1, true),
                                     new Mode(fa, 8, true)}) {
                int skipFrom = m.skip() ? SINKS : 0, skipTo = m.skip() ? settledTo : 0;
                float sc = medianMs(d, () -> m.kernel().scoreSums(tq, tk, lse.address(), sums.address(), STRIDE, nk, H, G,
                        D, scale, 0.9999999, false, m.step(), skipFrom, skipTo), 9);
                md.append(String.format(Locale.ROOT, "| score sums, %s, %s%s | %.2f | %.0f (counting the exact pass's work) |%n",
                        m.kernel().kernel(), m.step() == 1 ? "exact" : "every " + m.step() + "th query",
                        m.skip() ? ", settled skipped" : "", sc, 2.0 * H * D * pairs / sc / 1e9));
            }
            return md.toString();
        }
    }

    static String prefill(FlashAttention fa, Path dir, Arena arena, long[] lengths, int scoreStep) {
        CudaDevice d = fa.device();
        float[] inv = Rope.standard(D, 500000, false).inverseFrequencies();
        StringBuilder md = new StringBuilder("| N | score sums | cascade prefill ms (one layer) | ms per 1K tokens | cache state bytes |\n"
                + "|---:|---|---:|---:|---:|\n");
        DeviceBuffer[] pool = new DeviceBuffer[6];
        for (int i = 0; i < 3; i++) {
            pool[2 * i] = randomBf16(d, arena, (long) H * STRIDE * D, 10 + i);
            pool[2 * i + 1] = randomBf16(d, arena, (long) G * STRIDE * D, 20 + i);
        }
        StringBuilder phases = new StringBuilder();
        long longest = Arrays.stream(lengths).max().orElse(0);
        try {
            List<long[]> runs = new ArrayList<>();
            for (long n : lengths) runs.add(new long[]{n, scoreStep});
            if (scoreStep != 1) runs.add(new long[]{longest, 1});
            for (long[] run : runs) {
                long n = run[0];
                int step = (int) run[1];
                String mode = step == 1 ? "exact, settled skipped" : "every " + step + "th query, settled skipped";
                try (DeviceCascadeCache cache = new DeviceCascadeCache(fa, dir, H, G, D, SINKS, SIZE, CASCADES, STRIDE,
                        0.9999999, true, true, inv, false).scoreSampling(step, true)) {
                    long strides = n / STRIDE;
                    float ms = d.time(() -> {
                        for (long s = 0; s < strides; s++) {
                            int p = (int) (s % 3);
                            long k = pool[2 * p + 1].address();
                            cache.stride(pool[2 * p].address(), D, (long) STRIDE * D, k, k, D, (long) STRIDE * D, STRIDE);
                        }
                    });
                    md.append(String.format(Locale.ROOT, "| %d | %s | %.1f | %.3f | %d |%n", n, mode, ms, ms / (n / 1024.0),
                            cache.stateBytes()));
                    System.out.printf(Locale.ROOT, "N=%d (%s) cascade prefill %.1f ms%n", n, mode, ms);
                    if (n == longest && cache.tokensSeen() >= SINKS + SIZE + STRIDE) {
                        phases.append("Steady-state stride, score sums ").append(mode).append(": ").append(phaseTimes(cache, pool));
                    }
                }
            }
        } finally {
            for (DeviceBuffer b : pool) b.close();
        }
        return md + "\n" + phases;
    }

    /** Device time of each phase of a steady-state stride (cache full), mean of 4 strides. */
    static String phaseTimes(DeviceCascadeCache cache, DeviceBuffer[] pool) {
        CudaDevice d = pool[0].device();
        double[] t = new double[4];
        for (int i = 0; i < 4; i++) {
            long q = pool[0].address(), k = pool[1].address();
            int rows = cache.rows();
            t[0] += d.time(() -> cache.gather(q, D, (long) STRIDE * D, k, k, D, (long) STRIDE * D, STRIDE, rows));
            t[1] += d.time(() -> cache.attend(STRIDE, rows));
            t[2] += d.time(() -> cache.scoreSums(STRIDE, rows));
            t[3] += d.time(() -> cache.update(k, k, D, (long) STRIDE * D, STRIDE, rows, (float) Math.pow(0.9999999, STRIDE)));
        }
        return String.format(Locale.ROOT, "(ms, mean of 4): gather + rotary %.3f, attention %.3f, score"
                + " sums %.3f, cache update %.3f; total %.3f.%n", t[0] / 4, t[1] / 4, t[2] / 4, t[3] / 4, (t[0] + t[1] + t[2] + t[3]) / 4);
    }
}
