package cascadelm.model.cuda;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.kernels.cuda.CudaBackend;
import cascadelm.kernels.cuda.CudaDevice;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.KvCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The device-resident forward pass against independent references: Hugging Face's logits for the fixture
 * models (fixtures/README.md), and the CPU backend's greedy generations for every cache policy. Skipped where
 * no CUDA driver and GPU are present.
 */
@Tag("gpu")
class CudaSessionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static CudaBackend gpu;
    private static CpuBackend cpu;
    private static String unavailable;

    /**
     * Largest |CUDA − transformers| relative to the row's largest |logit|. Chunks of up to
     * {@code MATVEC_MAX_ROWS} tokens run float32 kernels: the CPU's 1e-4. Longer chunks run cuBLAS GEMMs with
     * activations rounded to the weights' 16-bit type (float16 for quantised weights): 1e-2 (bf16), 3e-3 (f16).
     */
    private static final Map<String, Double> GEMM_TOLERANCE = Map.of(
            "F32", 1e-4, "F16", 3e-3, "BF16", 1e-2, "Q8_0", 3e-3, "Q4_0", 3e-3);

    @BeforeAll
    static void open() {
        unavailable = CudaDevice.unavailableReason(0);
        if (unavailable != null) return;
        gpu = CudaBackend.open(0);
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        if (gpu != null) gpu.close();
        if (cpu != null) cpu.close();
    }

    /** Each dynamic test checks for the GPU itself, so without one every test shows as skipped. */
    private static DynamicTest gpuTest(String name, org.junit.jupiter.api.function.Executable body) {
        return DynamicTest.dynamicTest(name, () -> {
            assumeTrue(unavailable == null, "no usable GPU: " + unavailable);
            body.execute();
        });
    }

    @TestFactory
    List<DynamicTest> fixtureLogitsAndGenerations() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : List.of("llama-spm", "qwen2-bpe", "llama3-bpe")) {
            JsonNode manifest = JSON.readTree(fixture(name + ".json").toFile());
            for (String variant : iterable(manifest.get("variants").fieldNames())) {
                JsonNode v = manifest.get("variants").get(variant);
                Path gguf = fixture(v.get("gguf").asText());
                tests.add(gpuTest(name + " " + variant + " logits, float32 chunks of 7",
                        () -> logitsMatch(manifest, v, gguf, 7, 1e-4)));
                tests.add(gpuTest(name + " " + variant + " logits, GEMM chunks of 64",
                        () -> logitsMatch(manifest, v, gguf, 64, GEMM_TOLERANCE.get(variant))));
                for (String policy : List.of("full", "window", "sink", "cascade", "cascade-stride", "cascade-original")) {
                    tests.add(gpuTest(name + " " + variant + " greedy 64 tokens equal the CPU's, " + policy,
                            () -> greedyEqualsCpu(manifest, gguf, policy)));
                }
                tests.add(gpuTest(name + " " + variant + " snapshots continue like the CPU's",
                        () -> snapshotsContinueLikeTheCpu(manifest, gguf)));
            }
        }
        return tests;
    }

    /** Small sizes so that every bounded policy evicts within the 40 + 64 tokens. */
    private static CacheSettings settings(String policy) {
        Map<String, String> m = new HashMap<>();
        m.put("cache", policy.startsWith("cascade") ? "cascade" : policy);
        m.put("cache-size", "16");
        m.put("cascades", "2");
        m.put("sinks", policy.equals("window") ? "0" : "4");
        m.put("stride", "8");
        m.put("ema-beta", "0.9");
        if (policy.equals("cascade-stride")) m.put("select", "stride");
        if (policy.equals("cascade-original")) m.put("positions", "original");
        return CacheSettings.from(m);
    }

    private static void logitsMatch(JsonNode manifest, JsonNode variant, Path gguf, int chunk, double tolerance) throws IOException {
        int[] ids = ints(manifest.get("tokens").get("ids"));
        JsonNode logits = variant.get("logits");
        int firstRow = logits.get("first_position").asInt();
        int rows = logits.get("shape").get(0).asInt();
        int vocab = logits.get("shape").get(1).asInt();
        float[] expected = readFloats(fixture(logits.get("file").asText()), rows * vocab);
        try (LlamaModel model = LlamaModel.open(gguf);
             ModelSession s = ModelSessions.open(model, gpu, settings("full"), 16, chunk)) {
            float[] all = new float[chunk * vocab];
            double worstRatio = 0;
            for (int start = 0; start < ids.length; start += chunk) {
                int n = Math.min(chunk, ids.length - start);
                Arrays.fill(all, Float.NaN);
                s.forward(ids, start, n, all);
                for (int i = 0; i < n; i++) {
                    int row = start + i - firstRow;
                    if (row < 0 || row >= rows) continue;
                    double scale = 0, worst = 0;
                    for (int j = 0; j < vocab; j++) {
                        float a = all[i * vocab + j];
                        assertTrue(!Float.isNaN(a), "NaN logit at position " + (start + i));
                        scale = Math.max(scale, Math.abs(expected[row * vocab + j]));
                        worst = Math.max(worst, Math.abs(a - expected[row * vocab + j]));
                    }
                    worstRatio = Math.max(worstRatio, worst / scale);
                }
            }
            System.out.printf("%s chunk %d: worst |Δ|/max|logit| = %.2e (tolerance %.0e)%n", gguf.getFileName(), chunk,
                    worstRatio, tolerance);
            assertTrue(worstRatio <= tolerance, gguf.getFileName() + " chunk " + chunk + ": worst " + worstRatio
                    + " exceeds " + tolerance);
        }
    }

    private static int[] prompt(JsonNode manifest) {
        return Arrays.copyOf(ints(manifest.get("tokens").get("ids")), 40);
    }

    private static int[] greedy(LlamaModel model, cascadelm.kernels.Backend backend, CacheSettings s, int[] prompt) {
        try (ModelSession session = ModelSessions.open(model, backend, s, prompt.length + 64, s.stride())) {
            return Generator.generate(session, prompt, Sampler.greedy(), 64, Set.of(), t -> { }).tokens();
        }
    }

    private static void greedyEqualsCpu(JsonNode manifest, Path gguf, String policy) throws IOException {
        CacheSettings s = settings(policy);
        int[] prompt = prompt(manifest);
        try (LlamaModel model = LlamaModel.open(gguf)) {
            int[] expected = greedy(model, cpu, s, prompt);
            int[] actual = greedy(model, gpu, s, prompt);
            assertEquals(64, expected.length);
            assertArrayEquals(expected, actual, gguf.getFileName() + " " + policy);
        }
    }

    private static void snapshotsContinueLikeTheCpu(JsonNode manifest, Path gguf) throws IOException {
        CacheSettings s = settings("cascade");
        int[] prompt = prompt(manifest);
        int[] question = Arrays.copyOfRange(ints(manifest.get("tokens").get("ids")), 100, 110);
        try (LlamaModel model = LlamaModel.open(gguf)) {
            int[][] results = new int[2][];
            int i = 0;
            for (cascadelm.kernels.Backend b : new cascadelm.kernels.Backend[]{cpu, gpu}) {
                try (ModelSession session = ModelSessions.open(model, b, s, 200, s.stride())) {
                    Generator.prefill(session, prompt);
                    KvCache snapshot = session.cache();
                    session.setCache(snapshot.copy());
                    int[] first = Generator.generate(session, question, Sampler.greedy(), 32, Set.of(), t -> { }).tokens();
                    session.setCache(snapshot.copy());
                    int[] second = Generator.generate(session, question, Sampler.greedy(), 32, Set.of(), t -> { }).tokens();
                    assertArrayEquals(first, second, b.name() + ": a snapshot's copies continue alike");
                    results[i++] = first;
                }
            }
            assertArrayEquals(results[0], results[1], "CUDA continues a snapshot like the CPU");
        }
    }

    private static Path extracted;

    /** The fixture as a file: from the class path directly, or copied out of a test jar (the GPU machine's runs). */
    private static Path fixture(String file) {
        java.net.URL url = CudaSessionTest.class.getResource("/fixtures/models/" + file);
        if (url == null) throw new IllegalStateException("missing fixture " + file);
        try {
            if (url.getProtocol().equals("file")) return Path.of(url.toURI());
            if (extracted == null) extracted = Files.createTempDirectory("cascade-fixtures");
            Path target = extracted.resolve(file);
            if (!Files.exists(target)) {
                try (var in = url.openStream()) {
                    Files.copy(in, target);
                }
            }
            return target;
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("cannot read fixture " + file + ": " + e.getMessage(), e);
        }
    }

    private static float[] readFloats(Path file, int count) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(count * 4L, b.capacity(), "size of " + file.getFileName());
        float[] f = new float[count];
        b.asFloatBuffer().get(f);
        return f;
    }

    private static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    private static <T> Iterable<T> iterable(java.util.Iterator<T> it) {
        return () -> it;
    }
}
