package cascadelm.bench.cli;

import java.util.LinkedHashMap;
import java.util.Map;

/** JSON objects that keep their keys in the order written, so result files read top-down. */
final class Json {
    private Json() {
    }

    static Map<String, Object> object(Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return m;
    }
}
