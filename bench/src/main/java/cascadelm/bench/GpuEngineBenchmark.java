package cascadelm.bench;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.Cublas;
import cascadelm.kernels.cuda.CudaKernels;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.kernels.cuda.DeviceMatrix;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.KvCache;
import cascadelm.model.cuda.CudaSession;
import cascadelm.model.llama.LayerWeights;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Whole-model prefill and decode on one GPU for a Llama-3.2-1B-shaped random model, against floors measured in
 * the same run on the same GPU: decode against the HBM bandwidth of a device-to-device copy (bytes of weights
 * and KV cache read per token / bandwidth), prefill against cuBLAS's 16-bit GEMM rate on a large square product.
 *
 * Decode runs five ways side by side, alternating in blocks of 16 tokens so drift hits all alike, DECODE tokens each:
 * greedy with the argmax on the device (the session's graph with overlapping launches where the GPU has them; only
 * the token comes back), the same graph with the logits downloaded and the argmax in Java, the same kernels launched
 * one by one, the previous version's kernels and host path ({@link CudaSession#legacyDecode}), and the first way
 * without overlapping launches ({@link CudaSession#overlapLaunches}). The decode products are also timed alone on the
 * model's big matrices (bytes of weights read / time).
 *
 * <p>Usage: {@code GpuEngineBenchmark MODEL_DIR OUT.md [TYPES=BF16,F16,Q8_0] [PROMPT=2048] [DECODE=128] [CHUNK=512]}
 */
public final class GpuEngineBenchmark {
    private GpuEngineBenchmark() {
    }

    /** Per-run decode profiles, appended under the table. */
    private static final StringBuilder PROFILES = new StringBuilder();

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path out = Path.of(args[1]);
        List<TensorType> types = Arrays.stream((args.length > 2 ? args[2] : "BF16,F16,Q8_0").split(",")).map(TensorType::valueOf).toList();
        int promptTokens = args.length > 3 ? Integer.parseInt(args[3]) : 2048;
        int decodeTokens = args.length > 4 ? Integer.parseInt(args[4]) : 128;
        int chunk = args.length > 5 ? Integer.parseInt(args[5]) : 512;
        RandomModel.Shape shape = RandomModel.Shape.LLAMA_3_2_1B;
        StringBuilder md = new StringBuilder();
        try (CudaBackend gpu = CudaBackend.open(0)) {
            CudaDevice d = gpu.device();
            double bandwidth = copyBandwidth(d);
            double f16Peak = gemmRate(d, Cublas.R_16F), bf16Peak = gemmRate(d, Cublas.R_16BF);
            md.append(String.format(Locale.ROOT, "Device %s. Device-to-device copy: %.0f GB/s (read + write). cuBLAS GEMM "
                    + "8192³, float32 accumulation: f16 %.0f TFLOP/s, bf16 %.0f TFLOP/s.%n%n", gpu.name(), bandwidth / 1e9,
                    f16Peak / 1e12, bf16Peak / 1e12));
            md.append("| weights | cache | prefill tok/s (").append(promptTokens).append(" in chunks of ").append(chunk)
                    .append(") | prefill TFLOP/s | % of GEMM peak | decode ms/token (graph, device argmax) |"
                            + " (graph, host argmax) | (no graph) | (previous version) | (no overlapping launches) |"
                            + " new / previous | tok/s | bytes/token (MB) | GB/s | % of copy bandwidth | device ms/step |"
                            + " (previous) | (no overlap) | % of copy bandwidth (device) | cache bytes after prompt / after decode |\n");
            md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
            StringBuilder kernels = new StringBuilder("\nDecode products alone (one token; bytes of weights read / median time,"
                    + " matrices of all layers in turn so L2 holds none; Q8_0: int8 activations by dp4a, and the float32"
                    + " activations of the previous version):\n\n| weights | matrix | rows × cols | fused decode kernel GB/s |"
                    + " % of copy | float32-activation kernel GB/s | n-token matvec kernel GB/s |\n"
                    + "|---|---|---|---:|---:|---:|---:|\n");
            System.out.print(md);
            for (TensorType type : types) {
                Path file = RandomModel.ensure(dir, shape, type, 1);
                try (LlamaModel model = LlamaModel.open(file)) {
                    double peak = type == TensorType.BF16 ? bf16Peak : f16Peak;
                    for (String policy : List.of("full", "cascade")) {
                        String row = run(model, gpu, type, policy, promptTokens, decodeTokens, chunk, bandwidth, peak);
                        System.out.print(row);
                        md.append(row);
                    }
                    String k = kernelRates(model, gpu, type, bandwidth);
                    System.out.print(k);
                    kernels.append(k);
                }
            }
            md.append("\nDecode step profile:\n\n").append(PROFILES);
            md.append(kernels);
        }
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, md.toString());
        System.out.println("\n" + md);
    }

    private static String run(LlamaModel model, CudaBackend gpu, TensorType type, String policy, int promptTokens,
                              int decodeTokens, int chunk, double bandwidth, double peak) {
        ModelConfig c = model.config();
        CacheSettings s = CacheSettings.from(Map.of("cache", policy, "cache-size", "1024", "sinks", "64", "stride",
                String.valueOf(chunk), "select", "stride"));
        int[] prompt = new Random(7).ints(promptTokens, 0, 100_000).toArray();
        int ways = 5, totalDecode = ways * decodeTokens + 3 * 32 + 2 * ways;
        // Warm-up: loads the weights, JIT-compiles the PTX and the Java paths, captures a graph once.
        try (ModelSession warm = ModelSessions.open(model, gpu, s, promptTokens + decodeTokens, chunk)) {
            warm.forward(prompt, 0, chunk, null);
            for (int i = 0; i < 8; i++) warm.forward(prompt, i, 1, null);
            for (int i = 0; i < 8; i++) warm.decodeGreedy(prompt[i]);
            ((CudaSession) warm).legacyDecode(true);
            for (int i = 0; i < 8; i++) warm.decodeGreedy(prompt[i]);
            warm.cache().release();
        }
        KvCache cache = ModelSessions.cache(gpu, s, c, promptTokens + totalDecode + 16);
        try (ModelSession session = ModelSessions.open(model, gpu, cache, chunk)) {
            long t0 = System.nanoTime();
            float[] logits = null;
            for (int at = 0; at < promptTokens; at += chunk) {
                logits = session.forward(prompt, at, Math.min(chunk, promptTokens - at), null);
            }
            long t1 = System.nanoTime();
            long bytesAfterPrompt = cache.bytes();
            int rowsAfterPrompt = cache.rows();
            // Decode, five ways alternating in blocks of 16 tokens (the token chain runs on through all of them).
            CudaSession cuda = (CudaSession) session;
            long[] nanos = new long[ways];
            int[] one = new int[1];
            int token = argmax(logits);
            boolean overlapping = cuda.overlapsLaunches();
            // Each way once first, so every graph is captured before the clock runs (the session keeps them all).
            for (int way = 0; way < ways; way++) {
                cuda.useGraph(way != 2);
                cuda.legacyDecode(way == 3);
                cuda.overlapLaunches(overlapping && way != 4);
                for (int i = 0; i < 2; i++) {
                    one[0] = token;
                    token = way == 1 ? argmax(session.forward(one, 0, 1, null)) : session.decodeGreedy(token);
                }
            }
            for (int done = 0; done < ways * decodeTokens; ) {
                int way = (done / 16) % ways;
                cuda.useGraph(way != 2);
                cuda.legacyDecode(way == 3);
                cuda.overlapLaunches(overlapping && way != 4);
                long a = System.nanoTime();
                for (int i = 0; i < 16 && done < ways * decodeTokens; i++, done++) {
                    if (way == 1) {
                        one[0] = token;
                        token = argmax(session.forward(one, 0, 1, null));
                    } else {
                        token = session.decodeGreedy(token);
                    }
                }
                nanos[way] += System.nanoTime() - a;
            }
            cuda.useGraph(true);
            // Device time of a step: the graph replays timed by events (apart from the wall-clock runs above): this
            // version, the previous one, this one without overlapping launches.
            double[] gpuMs = new double[3];
            for (int v = 0; v < 3; v++) {
                cuda.legacyDecode(v == 1);
                cuda.overlapLaunches(overlapping && v == 0);
                cuda.timeSteps(true);
                for (int i = 0; i < 32; i++) token = session.decodeGreedy(token);
                gpuMs[v] = cuda.meanStepMillis();
                cuda.timeSteps(false);
            }
            String[] names = {overlapping ? " (overlapping launches)" : "", " (previous version)", " (no overlapping launches)"};
            for (int v = 0; v < 3; v++) {
                if (v == 2 && !overlapping) continue;
                cuda.legacyDecode(v == 1);
                cuda.overlapLaunches(overlapping && v == 0);
                Map<CudaSession.Phase, Double> phases = cuda.profileDecode(50);
                double phaseSum = phases.values().stream().mapToDouble(Double::doubleValue).sum();
                StringBuilder profile = new StringBuilder(String.format(Locale.ROOT, "%s %s%s: device time per decode step"
                        + " %.3f ms (replay timed by events), phases alone (µs; sum %.0f):", type, policy, names[v],
                        gpuMs[v], phaseSum));
                phases.forEach((p, us) -> profile.append(String.format(Locale.ROOT, " %s %.0f", p, us)));
                PROFILES.append("- ").append(profile).append('\n');
                System.out.println("- " + profile);
            }
            cuda.legacyDecode(false);
            cuda.overlapLaunches(overlapping);
            double prefillSeconds = (t1 - t0) / 1e9;
            double flopsPerToken = 2.0 * matmulParams(model) + 2.0 * 2 * c.layers() * c.qDim() * (promptTokens / 2.0);
            double prefillRate = promptTokens / prefillSeconds;
            int cachedRows = (rowsAfterPrompt + cache.rows()) / 2;
            double bytesPerToken = weightBytes(model) + 2.0 * c.layers() * c.kvDim() * cachedRows * 2;   // bf16 K and V
            double[] ms = new double[ways];
            for (int w = 0; w < ways; w++) ms[w] = nanos[w] / 1e6 / decodeTokens;
            double achieved = bytesPerToken / (ms[0] / 1e3);
            String row = String.format(Locale.ROOT, "| %s | %s | %.0f | %.1f | %.0f%% | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.0f | %.0f | %.0f | %.0f%% | %.3f | %.3f | %.3f | %.0f%% | %d / %d |%n",
                    type, cache.describe(), prefillRate, prefillRate * flopsPerToken / 1e12,
                    100 * prefillRate * flopsPerToken / peak, ms[0], ms[1], ms[2], ms[3], ms[4], ms[0] / ms[3],
                    1e3 / ms[0], bytesPerToken / 1e6, achieved / 1e9, 100 * achieved / bandwidth, gpuMs[0], gpuMs[1],
                    gpuMs[2], 100 * bytesPerToken / (gpuMs[0] / 1e3) / bandwidth, bytesAfterPrompt, cache.bytes());
            cache.release();
            return row;
        }
    }

    /**
     * The decode products timed alone on the model's own matrices (every layer's in turn: more bytes than L2 holds),
     * the fused kernel against the earlier matrix–vector kernel; median of 9 passes.
     */
    private static String kernelRates(LlamaModel model, CudaBackend gpu, TensorType type, double bandwidth) {
        CudaDevice d = gpu.device();
        StringBuilder out = new StringBuilder();
        List<LayerWeights> layers = model.weights().layers();
        Map<String, Function<LayerWeights, Matrix>> pick = new LinkedHashMap<>();
        pick.put("q", LayerWeights::wq);
        pick.put("gate", LayerWeights::gate);
        pick.put("down", LayerWeights::down);
        for (var e : pick.entrySet()) {
            List<DeviceMatrix> ms = new ArrayList<>();
            try {
                for (LayerWeights l : layers) ms.add(DeviceMatrix.upload(d, e.getValue().apply(l)));
                out.append(rate(gpu, type, e.getKey(), ms, bandwidth));
            } finally {
                ms.forEach(DeviceMatrix::close);
            }
        }
        try (DeviceMatrix o = DeviceMatrix.upload(d, model.weights().output())) {
            out.append(rate(gpu, type, "output", List.of(o), bandwidth));
        }
        return out.toString();
    }

    private static String rate(CudaBackend gpu, TensorType type, String name, List<DeviceMatrix> ms, double bandwidth) {
        CudaDevice d = gpu.device();
        int cols = ms.getFirst().cols(), rows = ms.getFirst().rows();
        long bytes = 0;
        for (DeviceMatrix m : ms) bytes += m.rows() * m.rowBytes();
        double[] rates = new double[3];
        float[] xv = new float[cols];
        Random r = new Random(3);
        for (int i = 0; i < cols; i++) xv[i] = (float) r.nextGaussian();
        try (DeviceBuffer x = d.uploadNew(xv);
             DeviceBuffer y = d.allocFloats(rows)) {
            for (int kernel = 0; kernel < 3; kernel++) {
                final int which = kernel;
                Runnable pass = () -> {
                    for (DeviceMatrix m : ms) {
                        if (which < 2) gpu.kernels().decodeMatvec(m, x.address(), 0, 0f, y.address(), false, which == 0);
                        else gpu.kernels().matvec(m, x.address(), 1, y.address(), 0f);
                    }
                };
                pass.run();
                float[] t = new float[9];
                for (int i = 0; i < t.length; i++) t[i] = d.time(pass);
                Arrays.sort(t);
                rates[kernel] = bytes / (t[t.length / 2] / 1e3);
            }
        }
        return String.format(Locale.ROOT, "| %s | %s | %d × %d | %.0f | %.0f%% | %s | %.0f |%n", type, name, rows, cols,
                rates[0] / 1e9, 100 * rates[0] / bandwidth,
                CudaKernels.int8Activations(ms.getFirst()) ? String.format(Locale.ROOT, "%.0f", rates[1] / 1e9) : "—",
                rates[2] / 1e9);
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /** Parameters of every matrix one token passes through, the output projection included. */
    private static long matmulParams(LlamaModel model) {
        long p = 0;
        for (LayerWeights l : model.weights().layers()) {
            for (Matrix m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down())) p += (long) m.rows() * m.cols();
        }
        return p + (long) model.weights().output().rows() * model.weights().output().cols();
    }

    /** Bytes of weights a decode step reads: every matrix once in its encoding (the embedding: one row). */
    private static double weightBytes(LlamaModel model) {
        double b = 0;
        for (LayerWeights l : model.weights().layers()) {
            for (Matrix m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down())) b += m.rows() * m.rowBytes();
        }
        Matrix o = model.weights().output();
        return b + o.rows() * o.rowBytes();
    }

    /** Bytes moved per second (read + write) by a 1 GiB device-to-device copy, best of 10. */
    private static double copyBandwidth(CudaDevice d) {
        long bytes = 1L << 30;
        try (DeviceBuffer a = d.alloc(bytes); DeviceBuffer b = d.alloc(bytes)) {
            d.fill32(a.address(), 0, bytes / 4);
            float best = Float.MAX_VALUE;
            for (int i = 0; i < 10; i++) {
                best = Math.min(best, d.time(() -> d.copy(b.address(), a.address(), bytes)));
            }
            return 2.0 * bytes / (best / 1e3);
        }
    }

    /** FLOP/s of an 8192³ GEMM with 16-bit inputs and float32 output, best of 5. */
    private static double gemmRate(CudaDevice d, int type) {
        int n = 8192;
        try (DeviceBuffer a = d.alloc(2L * n * n); DeviceBuffer b = d.alloc(2L * n * n); DeviceBuffer c = d.alloc(4L * n * n)) {
            d.fill32(a.address(), 0x3C003C00, (long) n * n / 2);   // ones (f16); small normal numbers as bf16
            d.fill32(b.address(), 0x3C003C00, (long) n * n / 2);
            d.time(() -> d.cublas().linear(a.address(), b.address(), c.address(), n, n, n, type, 0f));
            float best = Float.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                best = Math.min(best, d.time(() -> d.cublas().linear(a.address(), b.address(), c.address(), n, n, n, type, 0f)));
            }
            return 2.0 * n * n * n / (best / 1e3);
        }
    }
}
