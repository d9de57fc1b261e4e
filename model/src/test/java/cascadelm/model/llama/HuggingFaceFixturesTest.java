package cascadelm.model.llama;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.ModelFixtures;
import cascadelm.model.cache.FullCache;
import cascadelm.model.cli.Main;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine against Hugging Face transformers: random Llama, Llama 3 (rope scaling, tied) and Qwen2
 * (biases, tied) models exported to GGUF by tools/reference, with transformers' logits for 300 tokens
 * and its greedy continuations recorded per file (see fixtures/README.md).
 */
class HuggingFaceFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final CpuBackend BACKEND = new CpuBackend(0);
    /** Q4_0 decoding with float32 activations (the reference the GPU tests use). */
    private static final CpuBackend FLOAT32 = new CpuBackend(0, false);

    /**
     * Largest |engine − transformers| allowed, relative to the largest |logit| of the row (≈ 3–10 here).
     * Both run float32 on the same effective weights; only summation order differs.
     */
    private static final Map<String, Double> TOLERANCE = Map.of(
            "F32", 1e-4, "F16", 1e-4, "BF16", 1e-4, "Q8_0", 1e-4, "Q4_0", 1e-4);

    /**
     * As {@link #TOLERANCE}, for the rows computed one token at a time. Q4_0 is decoded with 8-bit activations
     * (as llama.cpp does): each product's x is rounded to 1/254 of its 32-value block's largest |x| (see
     * Int8Activations), where transformers multiplies the same weights with float x. Measured on llama-spm
     * Q4_0: 2.4e-2 (2026-12-07). For scale, quantizing the weights to Q4_0 at all moved these logits by up to
     * 4.6 against the F32 file's (the manifest's max_abs_diff_vs_F32_logits), a third of the largest logit:
     * the activations' rounding adds about a fourteenth of what the format itself costs.
     */
    private static final Map<String, Double> DECODE_TOLERANCE = Map.of(
            "F32", 1e-4, "F16", 1e-4, "BF16", 1e-4, "Q8_0", 1e-4, "Q4_0", 5e-2);

    @AfterAll
    static void closeBackend() {
        BACKEND.close();
        FLOAT32.close();
    }

    @TestFactory
    List<DynamicTest> everyFixtureFile() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : List.of("llama-spm", "qwen2-bpe", "llama3-bpe")) {
            JsonNode manifest = JSON.readTree(fixture(name + ".json").toFile());
            for (String variant : ModelFixtures.iterable(manifest.get("variants").fieldNames())) {
                JsonNode v = manifest.get("variants").get(variant);
                Path gguf = fixture(v.get("gguf").asText());
                tests.add(DynamicTest.dynamicTest(name + " " + variant + " logits",
                        () -> logitsMatch(manifest, v, gguf, TOLERANCE.get(variant))));
                tests.add(DynamicTest.dynamicTest(name + " " + variant + " logits decoding token by token",
                        () -> decodeLogitsMatch(BACKEND, manifest, v, gguf, DECODE_TOLERANCE.get(variant))));
                tests.add(DynamicTest.dynamicTest(name + " " + variant + " logits decoding token by token, float32 activations",
                        () -> decodeLogitsMatch(FLOAT32, manifest, v, gguf, TOLERANCE.get(variant))));
                tests.add(DynamicTest.dynamicTest(name + " " + variant + " greedy continuation",
                        () -> greedyContinuationMatches(v.get("greedy"), gguf)));
                tests.add(DynamicTest.dynamicTest(name + " " + variant + " through the CLI",
                        () -> cliPrintsTheContinuation(v.get("greedy"), gguf)));
            }
            tests.add(DynamicTest.dynamicTest(name + " tokenizer gives the fixture's token ids",
                    () -> tokenizerMatches(manifest, fixture(manifest.get("variants").get("F32").get("gguf").asText()))));
        }
        return tests;
    }

    private static void logitsMatch(JsonNode manifest, JsonNode variant, Path gguf, double tolerance) throws IOException {
        int[] ids = ModelFixtures.ints(manifest.get("tokens").get("ids"));
        ModelFixtures.RecordedLogits expected = ModelFixtures.RecordedLogits.of(variant);
        int firstRow = expected.firstRow(), rows = expected.rows(), vocab = expected.vocab();
        try (LlamaModel model = LlamaModel.open(gguf)) {
            ModelConfig c = model.config();
            // Uneven chunks on purpose: the cache must join them seamlessly.
            Session s = new Session(model, BACKEND, new FullCache(c.layers(), c.kvHeads(), c.headDim(), 16), 64);
            float[] all = new float[64 * vocab];
            double worstRatio = 0;
            for (int start = 0; start < ids.length; start += 64) {
                int n = Math.min(64, ids.length - start);
                s.forward(ids, start, n, all);
                for (int i = 0; i < n; i++) {
                    int row = start + i - firstRow;
                    if (row < 0 || row >= rows) continue;
                    ModelFixtures.Deviation d = expected.deviation(row, all, i * vocab);
                    assertTrue(d.worst() <= tolerance * d.scale(), gguf.getFileName() + " position " + (start + i)
                            + ": max |Δ| " + d.worst() + " exceeds " + tolerance + " × " + d.scale());
                    worstRatio = Math.max(worstRatio, d.ratio());
                }
            }
            assertTrue(worstRatio < tolerance);
        }
    }

    /** The recorded rows again, each from a single-token step (the decoding kernels) after the earlier tokens. */
    private static void decodeLogitsMatch(CpuBackend backend, JsonNode manifest, JsonNode variant, Path gguf, double tolerance)
            throws IOException {
        int[] ids = ModelFixtures.ints(manifest.get("tokens").get("ids"));
        ModelFixtures.RecordedLogits expected = ModelFixtures.RecordedLogits.of(variant);
        int firstRow = expected.firstRow(), rows = expected.rows(), vocab = expected.vocab();
        try (LlamaModel model = LlamaModel.open(gguf)) {
            ModelConfig c = model.config();
            Session s = new Session(model, backend, new FullCache(c.layers(), c.kvHeads(), c.headDim(), 16), 64);
            for (int start = 0; start < firstRow; start += 64) {
                s.forward(ids, start, Math.min(64, firstRow - start), null);
            }
            double worstRatio = 0;
            for (int row = 0; row < rows; row++) {
                float[] out = s.forward(ids, firstRow + row, 1, null);
                worstRatio = Math.max(worstRatio, expected.deviation(row, out, 0).ratio());
            }
            assertTrue(worstRatio <= tolerance, gguf.getFileName() + " decoding token by token: max |Δ| / max |logit| "
                    + worstRatio + " exceeds " + tolerance);
        }
    }

    private static void greedyContinuationMatches(JsonNode greedy, Path gguf) throws IOException {
        int[] prompt = ModelFixtures.ints(greedy.get("prompt_ids"));
        int[] expected = ModelFixtures.ints(greedy.get("new_ids"));
        try (LlamaModel model = LlamaModel.open(gguf)) {
            ModelConfig c = model.config();
            Session s = new Session(model, BACKEND, new FullCache(c.layers(), c.kvHeads(), c.headDim(), 64), 7);
            Generator.Result r = Generator.generate(s, prompt, Sampler.greedy(), expected.length, Set.of(), t -> { });
            assertArrayEquals(expected, r.tokens());
            assertEquals(greedy.get("text").asText(), model.tokenizer().decode(r.tokens()));
        }
    }

    /** What a user sees: the prompt text in, the continuation text out (no fixture stops early). */
    private static void cliPrintsTheContinuation(JsonNode greedy, Path gguf) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(new String[]{"generate", "--model", gguf.toString(), "--prompt",
                        greedy.get("prompt_text").asText(), "--max-tokens", "32"},
                new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, code, err.toString());
        // The CLI ends the stream with a newline; sentencepiece's decode drops a leading space.
        assertEquals(greedy.get("text").asText().strip(), out.toString().strip());
    }

    private static void tokenizerMatches(JsonNode manifest, Path gguf) throws IOException {
        JsonNode tokens = manifest.get("tokens");
        int[] ids = ModelFixtures.ints(tokens.get("ids"));
        int[] bos = ModelFixtures.ints(tokens.get("bos_prefix"));
        try (LlamaModel model = LlamaModel.open(gguf)) {
            int[] encoded = model.tokenizer().encode(tokens.get("source_text").asText());
            int[] expectedBody = Arrays.copyOfRange(ids, bos.length, ids.length);
            assertArrayEquals(expectedBody, Arrays.copyOf(encoded, expectedBody.length));
            assertEquals(bos.length == 1, model.tokenizer().addBos());
            if (bos.length == 1) assertEquals(bos[0], model.tokenizer().bosToken());
        }
    }

    private static Path fixture(String file) {
        return ModelFixtures.file(file);
    }
}
