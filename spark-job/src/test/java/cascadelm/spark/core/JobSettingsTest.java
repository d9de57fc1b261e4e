package cascadelm.spark.core;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JobSettingsTest {
    @Test
    void laterLayersWinAndEveryCacheSettingIsAJobSetting() {
        JobSettings s = JobSettings.resolve(List.of(Map.of("cache-size", "512", "stride", "128"), Map.of("cache-size", "1024")),
                List.of("file", "--conf"));
        assertEquals(1024, s.cache().size());
        assertEquals(128, s.cache().stride());
        assertEquals(JobSettings.defaults().keySet(), s.asMap().keySet());
    }

    @Test
    void promptsHaveTheDemoModelsFormatsByDefault() {
        JobSettings s = JobSettings.of(Map.of());
        assertEquals("\nSummary:", s.summaryPrompt());
        assertEquals("\nQuestion: Who?\nAnswer:", s.answerPrompt("Who?"));
        assertEquals("", s.documentPrefix(null));
        assertEquals("Title: Dusk\n", JobSettings.of(Map.of("document-prefix", "Title: {title}\\n")).documentPrefix("Dusk"));
    }

    @Test
    void unknownKeysAndBadValuesFailNamingTheKeyAndWhereItCameFrom() {
        var unknown = assertThrows(IllegalArgumentException.class,
                () -> JobSettings.resolve(List.of(Map.of("cache-sise", "1")), List.of("conf/cascade.properties")));
        assertTrue(unknown.getMessage().contains("'cache-sise'") && unknown.getMessage().contains("conf/cascade.properties"), unknown.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of("cache-size", "100", "cascades", "3")))
                .getMessage().contains("cache-size"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of("answer-max-tokens", "many")))
                .getMessage().contains("answer-max-tokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of("backend", "tpu")))
                .getMessage().contains("backend"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of("answer-prompt", "Answer:")))
                .getMessage().contains("{question}"));
    }

    @Test
    void helpListsEverySettingWithItsDefault() {
        List<String> help = JobSettings.help();
        for (String key : JobSettings.defaults().keySet()) {
            String d = JobSettings.defaults().get(key);
            assertTrue(help.stream().anyMatch(l -> l.equals("  " + key + " = " + (d.isEmpty() ? "(empty)" : d))), key);
        }
    }

    /** Bad values for every setting; a key missing here fails the test, so a new setting must add its own. */
    private static final Map<String, List<String>> BAD_VALUES = Map.ofEntries(
            Map.entry("model", List.of("", "  ", "models/a\u0000b.gguf")),
            Map.entry("backend", List.of("tpu", "")),
            Map.entry("device", List.of("-1", "1024", "gpu0")),
            Map.entry("threads", List.of("-1", "4097", "all", "1e3")),
            Map.entry("summary-max-tokens", List.of("-1", "65537", "99999999999", "many")),
            Map.entry("answer-max-tokens", List.of("-5", "2147483648", "")),
            Map.entry("max-document-tokens", List.of("0", "2147483648", "1M")),
            Map.entry("max-question-tokens", List.of("0", "1048577", "x")),
            Map.entry("summary-prompt", List.of("")),
            Map.entry("answer-prompt", List.of("Answer:", "")),
            Map.entry("cache", List.of("lru", "")),
            Map.entry("cache-size", List.of("0", "-4", "4194305", "lots")),
            Map.entry("cascades", List.of("0", "31", "two")),
            // as many sinks as the default cache size: they must be fewer
            Map.entry("sinks", List.of("-1", "4194305", cascadelm.model.cache.CacheSettings.DEFAULTS.get("cache-size"))),
            Map.entry("stride", List.of("0", "65537", "x")),
            Map.entry("ema-beta", List.of("0", "1", "1.5", "NaN", "x")),
            Map.entry("select", List.of("best")),
            Map.entry("eager-fill", List.of("yes", "")),
            Map.entry("head-reduction", List.of("sum")),
            Map.entry("positions", List.of("rope")));
    /** Settings every value of which is usable. */
    private static final List<String> ANY_TEXT = List.of("document-prefix");

    @Test
    void everySettingWithABadValueFailsNamingTheKeyAndWhatItAccepts() {
        for (String key : JobSettings.defaults().keySet()) {
            if (ANY_TEXT.contains(key)) continue;
            assertTrue(BAD_VALUES.containsKey(key), "no bad values listed for setting " + key);
            for (String bad : BAD_VALUES.get(key)) {
                String message = assertThrows(IllegalArgumentException.class, () -> JobSettings.of(Map.of(key, bad)),
                        key + "=" + bad + " was accepted").getMessage();
                assertTrue(message.startsWith("setting " + key), key + "=" + bad + ": " + message);
                // What is allowed: a range, the choices, or the rule the value broke.
                assertTrue(message.matches("(?s).*(from -?\\d+ to \\d+|must be one of|must be true or false|must be in \\(0, 1\\)"
                        + "|must contain \\{question\\}|must not be empty|must be a GGUF file path|must be smaller than cache-size"
                        + "|must be divisible by cascades).*"), key + "=" + bad + ": " + message);
            }
        }
        assertEquals(Set.of(), difference(BAD_VALUES.keySet(), JobSettings.defaults().keySet()), "bad values for settings that do not exist");
    }

    @Test
    void numericRangesAreInclusiveAndTheirEndsAreAccepted() {
        for (JobSettings.Definition d : JobSettings.JOB_DEFINITIONS) {
            if (!d.isInteger()) continue;
            JobSettings.of(Map.of(d.name(), Long.toString(d.min())));
            JobSettings.of(Map.of(d.name(), Long.toString(d.max())));
        }
        JobSettings.of(Map.of("cache-size", "4194000", "cascades", "4", "sinks", "64", "stride", "65536"));
    }

    private static Set<String> difference(Set<String> a, Set<String> b) {
        Set<String> d = new java.util.HashSet<>(a);
        d.removeAll(b);
        return d;
    }
}
