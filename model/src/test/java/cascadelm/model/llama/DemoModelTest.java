package cascadelm.model.llama;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.FullCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Set;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The trained demo model (sample-data/models) against transformers' logits recorded when it was exported
 * (tools/train/demo.hf-logits.json): the engine reads the model the trainer made.
 */
class DemoModelTest {
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @ParameterizedTest
    @ValueSource(strings = {"F16", "Q8_0"})
    void matchesTransformersOnTheExportedFile(String variant) throws Exception {
        JsonNode reference = new ObjectMapper().readTree(ROOT.resolve("tools/train/demo.hf-logits.json").toFile());
        JsonNode v = reference.get("variants").get(variant);
        int[] ids = ints(reference.get("ids"));
        try (LlamaModel model = LlamaModel.open(ROOT.resolve("sample-data/models").resolve(v.get("gguf").asText()));
             CpuBackend backend = new CpuBackend(2)) {
            ModelConfig c = model.config();
            Session s = new Session(model, backend, new FullCache(c.layers(), c.kvHeads(), c.headDim(), 64), 64);
            int vocab = c.vocabularySize();
            float[] all = new float[ids.length * vocab];
            s.forward(ids, 0, ids.length, all);
            int[] argmax = ints(v.get("argmax"));
            for (int i = 0; i < ids.length; i++) {
                int best = 0;
                for (int j = 1; j < vocab; j++) if (all[i * vocab + j] > all[i * vocab + best]) best = j;
                // Rows whose top two logits are this close may swap under float32 reordering.
                double gap = v.get("top5_logits").get(i).get(0).asDouble() - v.get("top5_logits").get(i).get(1).asDouble();
                if (gap > 1e-3) assertEquals(argmax[i], best, "argmax at position " + i);
            }
            JsonNode last = v.get("last_position_logits");
            double scale = 0, worst = 0;
            for (int j = 0; j < vocab; j++) {
                double e = last.get(j).asDouble();
                scale = Math.max(scale, Math.abs(e));
                worst = Math.max(worst, Math.abs(all[(ids.length - 1) * vocab + j] - e));
            }
            assertTrue(worst <= 1e-4 * scale, "last position: max |Δ| " + worst + " vs scale " + scale);

            JsonNode greedy = v.get("greedy");
            if (greedy == null) return;     // the trainer recorded a greedy continuation for F16 only
            Session g = new Session(model, backend, new FullCache(c.layers(), c.kvHeads(), c.headDim(), 64), 16);
            int[] expected = ints(greedy.get("new_ids"));
            int[] produced = Generator.generate(g, ints(greedy.get("prompt_ids")), Sampler.greedy(), expected.length,
                    Set.of(), t -> { }).tokens();
            assertArrayEquals(expected, produced);
        }
    }

    private static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }
}
