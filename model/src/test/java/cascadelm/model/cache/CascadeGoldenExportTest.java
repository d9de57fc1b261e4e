package cascadelm.model.cache;

import cascadelm.kernels.AttentionScores;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The golden file the GPU cascade-update kernel is checked against on the GPU machine
 * ({@code tools/device/cascade_check.py}): small configurations fed in strides with attention-score sums
 * drawn from a few values (so ties happen), through the Java {@link CascadingCache}; the file records each
 * stride's reduced score sums and the final positions and scores held per KV head and cascade.
 *
 * <p>The test recomputes the file and requires the committed copy to be identical, so the kernel's
 * reference cannot drift from the Java cache. Regenerate with {@code -Dcascade.golden.write=true}.
 */
class CascadeGoldenExportTest {
    static final Path GOLDEN = Path.of("..", "tools", "device", "cascade_golden.json");
    static final int HEAD_DIM = 2, HEADS = 4, KV_HEADS = 2;

    record Config(String name, int sinks, int size, int cascades, boolean eager, String select, double beta,
                  int tokens, int stride, long seed) {
    }

    static final List<Config> CONFIGS = List.of(
            new Config("C4-W8-S4-score", 4, 32, 4, true, "score", 0.9, 300, 7, 1),
            new Config("C4-W8-S4-stride", 4, 32, 4, true, "stride", 0.9, 300, 7, 2),
            new Config("C3-W4-S2-score-no-eager", 2, 12, 3, false, "score", 0.9999999, 200, 5, 3),
            new Config("C2-W16-S0-score-long-stride", 0, 32, 2, true, "score", 0.99, 260, 40, 4),
            new Config("C5-W4-S3-score", 3, 20, 5, true, "score", 0.95, 150, 6, 5));

    static Map<String, Object> run(Config cf) {
        CacheSettings s = CacheSettings.from(Map.of("cache", "cascade", "sinks", "" + cf.sinks(),
                "cache-size", "" + cf.size(), "cascades", "" + cf.cascades(), "eager-fill", "" + cf.eager(),
                "select", cf.select(), "ema-beta", "" + cf.beta(), "head-reduction", "max"));
        CascadingCache cache = new CascadingCache(1, KV_HEADS, HEADS, HEAD_DIM, s);
        Random rnd = new Random(cf.seed());
        int group = HEADS / KV_HEADS, kvDim = KV_HEADS * HEAD_DIM;
        List<Map<String, Object>> strides = new ArrayList<>();
        for (int t0 = 0; t0 < cf.tokens(); t0 += cf.stride()) {
            int n = Math.min(cf.stride(), cf.tokens() - t0);
            int rows = cache.rows();
            AttentionScores req = cache.scoreRequest(0, n);
            float[][] reduced = new float[KV_HEADS][rows + n];
            if (req != null) {
                for (int h = 0; h < HEADS; h++) {
                    for (int key = 0; key < rows + n; key++) req.out()[h * (rows + n) + key] = rnd.nextInt(5) * 0.25f;
                }
                for (int g = 0; g < KV_HEADS; g++) {
                    for (int key = 0; key < rows + n; key++) {
                        float acc = Float.NEGATIVE_INFINITY;
                        for (int h = g * group; h < (g + 1) * group; h++) acc = Math.max(acc, req.out()[h * (rows + n) + key]);
                        reduced[g][key] = acc;
                    }
                }
            }
            float[] k = new float[n * kvDim];
            for (int j = 0; j < n; j++) {
                for (int g = 0; g < KV_HEADS; g++) k[j * kvDim + g * HEAD_DIM] = t0 + j;
            }
            cache.append(0, k, k, n);
            cache.commit(n);
            Map<String, Object> st = new LinkedHashMap<>();
            st.put("t0", t0);
            st.put("n", n);
            st.put("rows", rows);
            st.put("decay", (float) Math.pow(cf.beta(), n));
            st.put("r", req != null ? reduced : null);
            strides.add(st);
        }
        List<Object> sinks = new ArrayList<>(), held = new ArrayList<>(), scores = new ArrayList<>();
        for (int g = 0; g < KV_HEADS; g++) {
            sinks.add(cache.sinkPositions(0, g));
            List<int[]> hg = new ArrayList<>();
            List<float[]> sg = new ArrayList<>();
            for (int c = 0; c < cf.cascades(); c++) {
                hg.add(cache.heldPositions(0, g, c));
                sg.add(cache.heldScores(0, g, c));
            }
            held.add(hg);
            scores.add(sg);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("name", cf.name());
        out.put("sinks", cf.sinks());
        out.put("cascades", cf.cascades());
        out.put("width", cf.size() / cf.cascades());
        out.put("eager", cf.eager());
        out.put("scored", cf.select().equals("score"));
        out.put("kvHeads", KV_HEADS);
        out.put("strides", strides);
        out.put("heldSinks", sinks);
        out.put("heldPositions", held);
        out.put("heldScores", scores);
        return out;
    }

    @Test
    void committedGoldenFileMatchesTheJavaCache() throws IOException {
        List<Map<String, Object>> all = new ArrayList<>();
        for (Config cf : CONFIGS) all.add(run(cf));
        String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(all) + "\n";
        if (Boolean.getBoolean("cascade.golden.write")) Files.writeString(GOLDEN, json);
        assertTrue(Files.exists(GOLDEN), GOLDEN + " is missing: run this test with -Dcascade.golden.write=true");
        assertEquals(json, Files.readString(GOLDEN),
                GOLDEN + " differs from the Java cache: regenerate it with -Dcascade.golden.write=true and recheck the GPU kernel");
    }

    @Test
    void scoreSelectionKeepsOtherTokensThanStrideSelection() {
        // The golden cases must exercise the score rule, not only the bookkeeping.
        @SuppressWarnings("unchecked")
        List<int[]> byScore = (List<int[]>) ((List<Object>) run(CONFIGS.get(0)).get("heldPositions")).get(0);
        @SuppressWarnings("unchecked")
        List<int[]> byStride = (List<int[]>) ((List<Object>) run(CONFIGS.get(1)).get("heldPositions")).get(0);
        boolean differ = false;
        for (int c = 0; c < byScore.size(); c++) differ |= !java.util.Arrays.equals(byScore.get(c), byStride.get(c));
        assertTrue(differ, "score and stride selection held the same tokens");
    }
}
