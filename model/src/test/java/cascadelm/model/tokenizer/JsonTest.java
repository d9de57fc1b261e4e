package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void readsNestedValuesAndEscapes() {
        Object v = Json.parse("{\"text\": \"a\\n\\u00e9\\ud83d\\ude00\\\"\", \"ids\": [1, -2, 3.5], \"ok\": true, \"none\": null, \"e\": {}}");
        Map<?, ?> m = (Map<?, ?>) v;
        assertEquals("a\né😀\"", m.get("text"));
        assertEquals(List.of(1L, -2L, 3.5), m.get("ids"));
        assertEquals(Boolean.TRUE, m.get("ok"));
        assertEquals(Arrays.asList("text", "ids", "ok", "none", "e"), List.copyOf(m.keySet()));
    }

    @Test
    void rejectsTrailingText() {
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
    }
}
