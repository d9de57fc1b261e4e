package cascadelm.bench;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.kernels.cuda.Cublas;
import cascadelm.kernels.cuda.DeviceBuffer;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LayerWeights;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Whole-model prefill and decode on one GPU for a Llama-3.2-1B-shaped random model, against floors measured in
 * the same run on the same GPU: decode against the HBM bandwidth of a device-to-device copy (bytes of weights
 * and KV cache read per token / bandwidth), prefill against cuBLAS's 16-bit GEMM rate on a large square product.
 *
 * <p>Usage: {@code GpuEngineBenchmark MODEL_DIR OUT.md [TYPES=F16,Q8_0] [PROMPT=2048] [DECODE=128] [CHUNK=512]}
 */
public final class GpuEngineBenchmark {
    private GpuEngineBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path out = Path.of(args[1]);
        List<TensorType> types = Arrays.stream((args.length > 2 ? args[2] : "F16,Q8_0").split(",")).map(TensorType::valueOf).toList();
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
                    .append(") | prefill TFLOP/s | % of f16 GEMM | decode tok/s | ms/token | bytes/token (MB) | GB/s | % of copy bandwidth |\n");
            md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            System.out.print(md);
            for (TensorType type : types) {
                Path file = RandomModel.ensure(dir, shape, type, 1);
                try (LlamaModel model = LlamaModel.open(file)) {
                    for (String policy : List.of("full", "cascade")) {
                        String row = run(model, gpu, type, policy, promptTokens, decodeTokens, chunk, bandwidth, f16Peak);
                        System.out.print(row);
                        md.append(row);
                    }
                }
            }
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
        // Warm-up: loads the weights, JIT-compiles the PTX and the Java paths.
        try (ModelSession warm = ModelSessions.open(model, gpu, s, promptTokens + decodeTokens, chunk)) {
            warm.forward(prompt, 0, chunk, null);
            for (int i = 0; i < 8; i++) warm.forward(prompt, i, 1, null);
        }
        try (ModelSession session = ModelSessions.open(model, gpu, s, promptTokens + decodeTokens, chunk)) {
            long t0 = System.nanoTime();
            float[] logits = null;
            for (int at = 0; at < promptTokens; at += chunk) {
                logits = session.forward(prompt, at, Math.min(chunk, promptTokens - at), null);
            }
            long t1 = System.nanoTime();
            int[] one = new int[1];
            for (int i = 0; i < decodeTokens; i++) {
                one[0] = argmax(logits);
                logits = session.forward(one, 0, 1, null);
            }
            long t2 = System.nanoTime();
            double prefillSeconds = (t1 - t0) / 1e9, decodeSeconds = (t2 - t1) / 1e9;
            double flopsPerToken = 2.0 * matmulParams(model) + 2.0 * 2 * c.layers() * c.qDim() * (promptTokens / 2.0);
            double prefillRate = promptTokens / prefillSeconds;
            int cachedRows = (int) Math.min(session.cache().rows(), Integer.MAX_VALUE);
            double bytesPerToken = weightBytes(model) + 2.0 * c.layers() * c.kvDim() * cachedRows * Float.BYTES;
            double msPerToken = decodeSeconds * 1e3 / decodeTokens;
            double achieved = bytesPerToken / (msPerToken / 1e3);
            return String.format(Locale.ROOT, "| %s | %s | %.0f | %.1f | %.0f%% | %.1f | %.2f | %.0f | %.0f | %.0f%% |%n",
                    type, session.cache().describe(), prefillRate, prefillRate * flopsPerToken / 1e12,
                    100 * prefillRate * flopsPerToken / peak, decodeTokens / decodeSeconds, msPerToken, bytesPerToken / 1e6,
                    achieved / 1e9, 100 * achieved / bandwidth);
        }
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
