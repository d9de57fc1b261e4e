package cascadelm.model.cache;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How a document is read: the KV cache policy and its sizes, the prefill stride, and the cascading
 * cache's selection rules (cascade-spec.md). The one definition of these settings: their names, defaults
 * and checks live here and are shared by the CLI, the configuration files and the Spark job.
 *
 * @param size          cached slots besides the sinks (M); the cascades share them equally
 * @param stride        prompt tokens per forward pass (T)
 * @param emaBeta       decay of the attention-score moving average (β)
 * @param eagerFill     while a document fits the cache, every token is kept (cascade-spec §2)
 */
public record CacheSettings(Policy policy, int size, int cascades, int sinks, int stride, double emaBeta,
                            Selection selection, boolean eagerFill, HeadReduction headReduction,
                            Positions positions) {

    public enum Policy { FULL, WINDOW, SINK, CASCADE }

    /** How a cascade picks among tokens arriving between two of its beats. */
    public enum Selection { SCORE, STRIDE }

    /** How the query heads of one KV head's group are reduced to one score. */
    public enum HeadReduction { MAX, MEAN }

    /** Rotary positions of cached keys: re-assigned by age inside the cache, or the document's own. */
    public enum Positions { CACHE, ORIGINAL }

    /** Setting names (as on the command line without "--", and in conf/ files) with their defaults. */
    public static final Map<String, String> DEFAULTS;

    static {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("cache", "cascade");
        d.put("cache-size", "3072");
        d.put("cascades", "4");
        d.put("sinks", "64");
        d.put("stride", "512");
        d.put("ema-beta", "0.9999999");
        d.put("select", "score");
        d.put("eager-fill", "true");
        d.put("head-reduction", "max");
        d.put("positions", "cache");
        DEFAULTS = java.util.Collections.unmodifiableMap(d);
    }

    /**
     * The most cached rows (sinks + cache-size): a row of one KV head is {@code headDim} floats in one Java
     * array, so with head dimensions up to 256 this keeps every array index below 2^31.
     */
    public static final int MAX_ROWS = 1 << 22;
    /** The longest prefill chunk: activation buffers grow with it (stride × model width floats, several). */
    public static final int MAX_STRIDE = 1 << 16;

    // The allowed range of each numeric setting, for the error of a value outside it or not a number at all.
    private static final Map<String, String> RANGES = Map.of(
            "cache-size", "must be from 1 to " + MAX_ROWS,
            "cascades", "must be from 1 to 30 (the paper finds more than 8 too sparse)",
            "sinks", "must be from 0 to " + MAX_ROWS,
            "stride", "must be from 1 to " + MAX_STRIDE,
            "ema-beta", "must be in (0, 1)");

    public CacheSettings {
        if (size < 1 || size > MAX_ROWS) throw invalid("cache-size", size, RANGES.get("cache-size"));
        if (cascades < 1 || cascades > 30) throw invalid("cascades", cascades, RANGES.get("cascades"));
        if (sinks < 0 || sinks > MAX_ROWS) throw invalid("sinks", sinks, RANGES.get("sinks"));
        if (stride < 1 || stride > MAX_STRIDE) throw invalid("stride", stride, RANGES.get("stride"));
        if ((long) size + sinks > MAX_ROWS) {
            throw invalid("cache-size", size, "plus sinks (" + sinks + ") must be at most " + MAX_ROWS);
        }
        if (!(emaBeta > 0 && emaBeta < 1)) throw invalid("ema-beta", emaBeta, RANGES.get("ema-beta"));
        if (policy == Policy.CASCADE && size % cascades != 0) {
            throw invalid("cache-size", size, "must be divisible by cascades (" + cascades + ")");
        }
        if ((policy == Policy.SINK || policy == Policy.CASCADE) && sinks >= size) {
            throw invalid("sinks", sinks, "must be smaller than cache-size (" + size + ")");
        }
    }

    /** The defaults, with any of the given settings replacing them; unknown names are an error. */
    public static CacheSettings from(Map<String, String> overrides) {
        for (String key : overrides.keySet()) {
            if (!DEFAULTS.containsKey(key)) {
                throw new IllegalArgumentException("unknown setting '" + key + "' (known: "
                        + String.join(", ", DEFAULTS.keySet()) + ")");
            }
        }
        Map<String, String> v = new LinkedHashMap<>(DEFAULTS);
        overrides.forEach((k, x) -> {
            if (x != null) v.put(k, x.trim());
        });
        return new CacheSettings(
                choice(v, "cache", Policy.class, List.of("full", "window", "sink", "cascade")),
                integer(v, "cache-size"), integer(v, "cascades"), integer(v, "sinks"), integer(v, "stride"),
                number(v, "ema-beta"),
                choice(v, "select", Selection.class, List.of("score", "stride")),
                bool(v, "eager-fill"),
                choice(v, "head-reduction", HeadReduction.class, List.of("max", "mean")),
                choice(v, "positions", Positions.class, List.of("cache", "original")));
    }

    public static CacheSettings defaults() {
        return from(Map.of());
    }

    /** The settings in their configuration-file form, e.g. {@code cache=cascade, cache-size=4096, …}. */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cache", name(policy));
        m.put("cache-size", Integer.toString(size));
        m.put("cascades", Integer.toString(cascades));
        m.put("sinks", Integer.toString(sinks));
        m.put("stride", Integer.toString(stride));
        m.put("ema-beta", Double.toString(emaBeta));
        m.put("select", name(selection));
        m.put("eager-fill", Boolean.toString(eagerFill));
        m.put("head-reduction", name(headReduction));
        m.put("positions", name(positions));
        return m;
    }

    private static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    private static int integer(Map<String, String> v, String key) {
        try {
            return Integer.parseInt(v.get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + ": '" + v.get(key) + "' is not an integer below 2^31; it "
                    + RANGES.get(key));
        }
    }

    private static double number(Map<String, String> v, String key) {
        try {
            return Double.parseDouble(v.get(key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + ": '" + v.get(key) + "' is not a number; it " + RANGES.get(key));
        }
    }

    private static boolean bool(Map<String, String> v, String key) {
        String s = v.get(key).toLowerCase(Locale.ROOT);
        if (s.equals("true") || s.equals("false")) return Boolean.parseBoolean(s);
        throw new IllegalArgumentException("--" + key + ": '" + v.get(key) + "' must be true or false");
    }

    private static <E extends Enum<E>> E choice(Map<String, String> v, String key, Class<E> type, List<String> names) {
        String s = v.get(key).toLowerCase(Locale.ROOT);
        if (!names.contains(s)) {
            throw new IllegalArgumentException("--" + key + ": '" + v.get(key) + "' must be one of " + String.join(", ", names));
        }
        return Enum.valueOf(type, s.toUpperCase(Locale.ROOT));
    }

    private static IllegalArgumentException invalid(String key, Object value, String rule) {
        return new IllegalArgumentException("--" + key + " " + value + " " + rule);
    }
}
