package cascadelm.bench;

import cascadelm.kernels.TensorType;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.FullCache;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.Session;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class RandomModelTest {
    // Llama-shaped but tiny: two layers, grouped-query attention, a vocabulary just big enough for the
    // byte alphabet, the merges and the special tokens.
    private static final RandomModel.Shape TINY =
            new RandomModel.Shape("tiny", 64, 2, 4, 2, 16, 128, 320, 10000.0);

    @TempDir
    Path dir;

    @Test
    void writesAModelTheEngineOpensAndRuns() throws Exception {
        Path file = RandomModel.ensure(dir, TINY, TensorType.Q8_0, 7);
        var written = Files.getLastModifiedTime(file);
        assertEquals(file, RandomModel.ensure(dir, TINY, TensorType.Q8_0, 7), "a present file is reused");
        assertEquals(written, Files.getLastModifiedTime(file));

        try (LlamaModel model = LlamaModel.open(file); CpuBackend backend = new CpuBackend(1)) {
            assertEquals(64, model.config().dim());
            assertEquals(2, model.config().kvHeads());
            assertEquals(320, model.tokenizer().vocabularySize());
            assertEquals(304, model.tokenizer().bosToken());
            assertSame(model.weights().tokenEmbedding(), model.weights().output(), "embeddings are tied");

            Session s = new Session(model, backend, new FullCache(2, 2, 16, 8), 4);
            float[] logits = s.forward(new int[] {model.tokenizer().bosToken()}, 0, 1, null);
            assertEquals(320, logits.length);
            float spread = 0;
            for (float v : logits) {
                assertTrue(Float.isFinite(v));
                spread = Math.max(spread, Math.abs(v));
            }
            assertTrue(spread > 0, "random weights give non-zero logits");
        }
    }
}
