package cascadelm.spark.core;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

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
}
