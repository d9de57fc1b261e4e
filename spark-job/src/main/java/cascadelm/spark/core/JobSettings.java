package cascadelm.spark.core;

import cascadelm.model.cache.CacheSettings;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every setting of the Spark job: the cache settings (defined once, in {@link CacheSettings}) and the job's
 * own (model, backend, token limits, prompts). Built from layers, later ones winning — built-in defaults,
 * {@code conf/cascade.properties}, Spark conf {@code spark.cascade.*}, {@code --conf key=value} — and
 * checked as a whole, so a bad value fails before any work with a message naming the key.
 * Serializable: the driver ships it to the executors inside the task closures.
 */
public final class JobSettings implements Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * One job setting: its name (as in conf files, after {@code spark.cascade.} and in --conf), default and doc;
     * for a whole number, the range it must lie in ({@code min > max} for the text settings).
     */
    public record Definition(String name, String defaultValue, String doc, long min, long max) {
        Definition(String name, String defaultValue, String doc) {
            this(name, defaultValue, doc, 1, 0);
        }

        boolean isInteger() {
            return min <= max;
        }

        /** The range as the error for a bad value states it. */
        String range() {
            return "a whole number from " + min + " to " + max;
        }
    }

    /**
     * The most tokens a task may generate. Generation allocates its output up front and every token is a
     * forward pass; past this a value is a typo, not a wish.
     */
    static final long MAX_GENERATED_TOKENS = 65_536;

    /** The job's own settings, in --help order; the cache settings follow them. */
    public static final List<Definition> JOB_DEFINITIONS = List.of(
            new Definition("model", "sample-data/models/tiny-random-llama3.Q8_0.gguf",
                    "GGUF model file; a path every node sees, or a file name shipped with spark-submit --files"),
            new Definition("backend", "auto", "auto (the GPU when Spark assigned one and the CUDA backend exists, else cpu) | cpu | cuda"),
            new Definition("device", "0", "GPU ordinal for the CUDA backend when Spark assigned the task no GPU "
                    + "(spark.task.resource.gpu.amount); an assigned GPU address wins", 0, 1023),
            new Definition("threads", "0", "CPU backend threads per executor; 0 = all cores the JVM sees", 0, 4096),
            new Definition("summary-max-tokens", "256", "most tokens generated for a summary", 0, MAX_GENERATED_TOKENS),
            new Definition("answer-max-tokens", "64", "most tokens generated for an answer", 0, MAX_GENERATED_TOKENS),
            new Definition("max-document-tokens", "4194304",
                    "a longer document (BOS, document-prefix and text) gets error rows instead of being read: it bounds the time one document may take",
                    1, Integer.MAX_VALUE),
            new Definition("max-question-tokens", "4096",
                    "a question whose answer prompt is longer gets an error row (the prompt is read after the document, within the cache)",
                    1, 1 << 20),
            new Definition("document-prefix", "", "text put before every document, read with it; {title} is replaced by the title column"),
            new Definition("summary-prompt", "\\nSummary:", "appended after the document for the summary task"),
            new Definition("answer-prompt", "\\nQuestion: {question}\\nAnswer:",
                    "appended after the document for each question; {question} is replaced by the question"));

    private final Map<String, String> values;

    private JobSettings(Map<String, String> values) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        check();
    }

    /** All defaults, the job's then the cache's, as a user would write them (escapes like {@code \n} unexpanded). */
    public static Map<String, String> defaults() {
        Map<String, String> d = new LinkedHashMap<>();
        JOB_DEFINITIONS.forEach(def -> d.put(def.name(), def.defaultValue()));
        d.putAll(CacheSettings.DEFAULTS);
        return d;
    }

    /** What each cache setting means (names and defaults are CacheSettings'; cascade-spec.md has the detail). */
    private static final Map<String, String> CACHE_DOCS = Map.of(
            "cache", "KV cache policy: full | window | sink | cascade",
            "cache-size", "cached tokens besides the sinks (M), shared by the cascades; must divide by cascades",
            "cascades", "number of cascades (C); cascade i keeps one token per 2^i",
            "sinks", "first tokens kept forever (sink and cascade policies)",
            "stride", "document tokens per forward pass while reading (prefill chunk)",
            "ema-beta", "decay of the attention-score moving average",
            "select", "between beats a cascade keeps the best-scored token (score) or the newest (stride)",
            "eager-fill", "keep every token while the document fits the cache",
            "head-reduction", "how a KV head's query heads are reduced to one score: max | mean",
            "positions", "rotary positions of cached keys: cache (by age) | original");

    /** Lines for --help: each setting with its built-in default, then what it means. */
    public static List<String> help() {
        List<String> lines = new ArrayList<>();
        JOB_DEFINITIONS.forEach(d -> {
            lines.add("  " + d.name() + " = " + (d.defaultValue().isEmpty() ? "(empty)" : d.defaultValue()));
            lines.add("        " + d.doc() + (d.isInteger() ? " (" + d.min() + " to " + d.max() + ")" : ""));
        });
        CacheSettings.DEFAULTS.forEach((k, v) -> {
            lines.add("  " + k + " = " + v);
            lines.add("        " + CACHE_DOCS.getOrDefault(k, "cache setting (cascade-spec.md)"));
        });
        return lines;
    }

    /**
     * The defaults overridden by each layer in turn; an unknown key or an invalid value fails with an
     * {@link IllegalArgumentException} whose message names the key and where it came from.
     */
    public static JobSettings resolve(List<Map<String, String>> layers, List<String> layerNames) {
        Map<String, String> v = new LinkedHashMap<>(defaults());
        for (int i = 0; i < layers.size(); i++) {
            for (Map.Entry<String, String> e : layers.get(i).entrySet()) {
                if (!v.containsKey(e.getKey())) {
                    throw new IllegalArgumentException("unknown setting '" + e.getKey() + "' in " + layerNames.get(i)
                            + " (known: " + String.join(", ", v.keySet()) + ")");
                }
                // Not trimmed: prompts may start or end with white space on purpose.
                v.put(e.getKey(), e.getValue());
            }
        }
        return new JobSettings(v);
    }

    public static JobSettings of(Map<String, String> overrides) {
        return resolve(List.of(overrides), List.of("the settings"));
    }

    private void check() {
        cache();
        for (Definition d : JOB_DEFINITIONS) {
            if (d.isInteger()) inRange(d);
        }
        String backend = backend();
        if (!List.of("auto", "cpu", "cuda").contains(backend)) {
            throw new IllegalArgumentException("setting backend: '" + get("backend") + "' must be one of auto, cpu, cuda");
        }
        if (get("model").isBlank()) throw new IllegalArgumentException("setting model: no model file given; it must be a GGUF file path");
        if (get("model").chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("setting model: the path contains a control character (NUL, line break...); it must be a GGUF file path");
        }
        if (summaryPrompt().isEmpty()) throw new IllegalArgumentException("setting summary-prompt: must not be empty");
        if (!answerTemplate().contains("{question}")) {
            throw new IllegalArgumentException("setting answer-prompt: must contain {question}");
        }
    }

    public String get(String key) {
        String v = values.get(key);
        if (v == null) throw new IllegalArgumentException("unknown setting '" + key + "'");
        return v;
    }

    /** The settings as given (for _SUMMARY.json and for shipping to Spark ML params). */
    public Map<String, String> asMap() {
        return values;
    }

    public CacheSettings cache() {
        Map<String, String> m = new LinkedHashMap<>();
        CacheSettings.DEFAULTS.keySet().forEach(k -> m.put(k, values.get(k)));
        try {
            return CacheSettings.from(m);
        } catch (IllegalArgumentException e) {
            // CacheSettings speaks in CLI options ("--cache-size"); here they are settings.
            throw new IllegalArgumentException("setting " + e.getMessage().replaceFirst("^--", ""));
        }
    }

    public String modelPath() {
        return get("model").trim();
    }

    public String backend() {
        return get("backend").trim().toLowerCase(Locale.ROOT);
    }

    public int device() {
        return integer("device");
    }

    public int threads() {
        return integer("threads");
    }

    public int summaryMaxTokens() {
        return integer("summary-max-tokens");
    }

    public int answerMaxTokens() {
        return integer("answer-max-tokens");
    }

    public int maxDocumentTokens() {
        return integer("max-document-tokens");
    }

    public int maxQuestionTokens() {
        return integer("max-question-tokens");
    }

    /** The text put before a document; {title} becomes the document's title (empty when it has none). */
    public String documentPrefix(String title) {
        return unescape(get("document-prefix")).replace("{title}", title == null ? "" : title);
    }

    public String summaryPrompt() {
        return unescape(get("summary-prompt"));
    }

    /** The answer prompt for one question. */
    public String answerPrompt(String question) {
        return answerTemplate().replace("{question}", question);
    }

    private String answerTemplate() {
        return unescape(get("answer-prompt"));
    }

    private int integer(String key) {
        try {
            return Integer.parseInt(get(key).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting " + key + ": '" + get(key) + "' is not an integer");
        }
    }

    private void inRange(Definition d) {
        long v;
        try {
            v = Long.parseLong(get(d.name()).trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("setting " + d.name() + ": '" + get(d.name()) + "' is not a whole number; it must be " + d.range());
        }
        if (v < d.min() || v > d.max()) {
            throw new IllegalArgumentException("setting " + d.name() + ": " + v + " is out of range; it must be " + d.range());
        }
    }

    /**
     * Prompts end in line breaks, which .properties files and shells mangle; so settings write them as
     * {@code \n} (and {@code \t}, {@code \\}) and are expanded here, in one place.
     */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case '\\' -> b.append('\\');
                    default -> b.append('\\').append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JobSettings other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return values.toString();
    }
}
