package cascadelm.model.llama;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.FullCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine's forward pass against a float64 reference on the same random weights. */
class ForwardPassTest {
    @TempDir
    Path dir;

    /** |engine − reference| relative to the largest reference logit of the position. */
    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest(name = "chunk {0}")
    @ValueSource(ints = {1, 7, 40})
    void llamaWithGqaMatchesTheFloat64Reference(int chunk) throws Exception {
        check(new TinyModel("llama", 32, 2, 4, 2, 8, 48, false, 11), chunk);
    }

    @ParameterizedTest(name = "chunk {0}")
    @ValueSource(ints = {1, 16, 40})
    void qwen2WithBiasesAndTiedEmbeddingsMatchesTheFloat64Reference(int chunk) throws Exception {
        check(new TinyModel("qwen2", 32, 2, 4, 1, 16, 64, true, 12), chunk);
    }

    @Test
    void headDimensionNeedNotBeDimOverHeads() throws Exception {
        check(new TinyModel("llama", 32, 1, 2, 2, 32, 32, true, 13), 9);
    }

    private void check(TinyModel m, int chunk) throws Exception {
        int[] tokens = new Random(5).ints(40, 0, m.vocab).toArray();
        double[][] expected = ReferenceForward.logits(m, tokens);
        try (LlamaModel model = LlamaModel.open(m.write(dir));
             CpuBackend backend = new CpuBackend(2)) {
            Session s = new Session(model, backend, new FullCache(m.layers, m.kvHeads, m.headDim, 8), chunk);
            float[] all = new float[chunk * m.vocab];
            for (int start = 0; start < tokens.length; start += chunk) {
                int n = Math.min(chunk, tokens.length - start);
                s.forward(tokens, start, n, all);
                for (int i = 0; i < n; i++) {
                    assertClose(expected[start + i], all, i * m.vocab, start + i);
                }
            }
            assertEquals(tokens.length, s.cache().tokensSeen());
        }
    }

    private static void assertClose(double[] expected, float[] actual, int offset, int position) {
        double scale = 0, worst = 0;
        for (double e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[offset + i]), "non-finite logit at position " + position);
            worst = Math.max(worst, Math.abs(actual[offset + i] - expected[i]));
        }
        assertTrue(worst <= TOLERANCE * scale,
                "position " + position + ": max |Δ| " + worst + " > " + TOLERANCE + " × " + scale);
    }
}
