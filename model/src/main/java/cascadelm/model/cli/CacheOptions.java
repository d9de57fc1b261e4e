package cascadelm.model.cli;

import cascadelm.model.cache.CacheSettings;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The cache and prefill options. Their defaults come from {@link CacheSettings#DEFAULTS} (or conf/), through
 * {@link ConfDefaults}, so they are defined in one place. Public so the evaluation commands in {@code bench}
 * reuse the same options.
 */
public final class CacheOptions {
    @Option(names = "--cache", paramLabel = "POLICY", description = "KV cache policy: full, window, sink or cascade; commands that compare policies take a comma-separated list (default: ${DEFAULT-VALUE}).")
    String cache;

    @Option(names = "--cache-size", paramLabel = "M", description = "Cached tokens besides the sinks, shared by the cascades (default: ${DEFAULT-VALUE}).")
    String cacheSize;

    @Option(names = "--cascades", paramLabel = "C", description = "Number of cascades; must divide --cache-size (default: ${DEFAULT-VALUE}).")
    String cascades;

    @Option(names = "--sinks", paramLabel = "S", description = "First tokens kept forever (sink and cascade policies) (default: ${DEFAULT-VALUE}).")
    String sinks;

    @Option(names = "--stride", paramLabel = "T", description = "Prompt tokens per forward pass (default: ${DEFAULT-VALUE}).")
    String stride;

    @Option(names = "--ema-beta", paramLabel = "B", description = "Decay of the attention-score moving average (default: ${DEFAULT-VALUE}).")
    String emaBeta;

    @Option(names = "--select", paramLabel = "RULE", description = "Between beats a cascade keeps the token with the best attention score (score) or the newest (stride) (default: ${DEFAULT-VALUE}).")
    String select;

    @Option(names = "--eager-fill", paramLabel = "BOOL", description = "Keep every token while the document fits the cache (default: ${DEFAULT-VALUE}).")
    String eagerFill;

    @Option(names = "--head-reduction", paramLabel = "R", description = "How a KV head's query heads are reduced to one score: max or mean (default: ${DEFAULT-VALUE}).")
    String headReduction;

    @Option(names = "--positions", paramLabel = "P", description = "Rotary positions of cached keys: cache (by age in the cache) or original (default: ${DEFAULT-VALUE}).")
    String positions;

    public CacheSettings settings() {
        return settings(cache);
    }

    /** The settings given, with {@code policy} in place of {@code --cache} (one entry of a list of policies). */
    public CacheSettings settings(String policy) {
        Map<String, String> m = values();
        m.put("cache", policy);
        try {
            return CacheSettings.from(m);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    /** The raw {@code --cache} value, which may be a comma-separated list. */
    public String policies() {
        return cache;
    }

    private Map<String, String> values() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cache", cache);
        m.put("cache-size", cacheSize);
        m.put("cascades", cascades);
        m.put("sinks", sinks);
        m.put("stride", stride);
        m.put("ema-beta", emaBeta);
        m.put("select", select);
        m.put("eager-fill", eagerFill);
        m.put("head-reduction", headReduction);
        m.put("positions", positions);
        return m;
    }
}
