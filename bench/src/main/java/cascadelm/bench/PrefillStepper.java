package cascadelm.bench;

import cascadelm.bench.eval.PrefillTiming;
import cascadelm.bench.eval.Progress;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LlamaModel;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One strided prefill of random tokens into a fresh cache, as `bench prefill` times it: what {@link PrefillAB}
 * loads once per gpu-kernels build (each in its own class loader). Public with plain-typed methods because
 * PrefillAB calls it reflectively.
 */
public final class PrefillStepper implements AutoCloseable {
    private final LlamaModel model;
    private final CpuBackend backend;
    private final CacheSettings settings;
    private final int[] tokens;

    /** @param settings cache settings as {@code name=value} pairs separated by commas, or empty for the defaults */
    public PrefillStepper(String modelPath, int threads, int tokens, String settings) throws Exception {
        model = LlamaModel.open(Path.of(modelPath));
        backend = new CpuBackend(threads);
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String kv : settings.split(",")) {
            if (!kv.isBlank()) overrides.put(kv.split("=", 2)[0].trim(), kv.split("=", 2)[1].trim());
        }
        this.settings = CacheSettings.from(overrides);
        this.tokens = PrefillTiming.tokens(tokens, model.config().vocabularySize(), 42);
    }

    /** One prefill of all the tokens; returns its wall time in milliseconds. */
    public double run() {
        try (Progress none = new Progress() {
            @Override
            public void advance(long n) {
            }

            @Override
            public void close() {
            }
        }) {
            return PrefillTiming.measure(model, backend, settings, tokens, none).nanos() / 1e6;
        }
    }

    @Override
    public void close() throws Exception {
        backend.close();
        model.close();
    }
}
