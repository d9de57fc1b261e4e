package cascadelm.model.gguf;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Metadata held in a map (what the GGUF reader builds, and what tests build by hand). */
public final class MapMetadata implements Metadata {
    private final Map<String, Object> values;

    public MapMetadata(Map<String, Object> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    @Override
    public Set<String> keys() {
        return values.keySet();
    }

    @Override
    public Object get(String key) {
        return values.get(key);
    }

    public Map<String, Object> asMap() {
        return values;
    }
}
