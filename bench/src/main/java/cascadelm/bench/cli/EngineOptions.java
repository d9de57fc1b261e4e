package cascadelm.bench.cli;

import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cli.CacheOptions;
import cascadelm.model.cli.Main;
import cascadelm.model.cli.ModelOptions;
import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * What every evaluation and benchmark command runs on: the model, the cache options (the model CLI's own, so
 * they are defined once; {@code --cache} takes a list of policies here) and the CPU threads. A picocli mixin.
 */
final class EngineOptions {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    CacheOptions cacheOptions;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N",
            description = "CPU threads; 0 = all cores (default: ${DEFAULT-VALUE}).")
    int threads;

    /** One settings object per policy in --cache (a comma list), all other settings equal. */
    List<CacheSettings> policies() {
        String list = cacheOptions.policies();
        if (list == null || list.isBlank()) throw new Main.UsageException("--cache needs at least one policy");
        List<CacheSettings> out = new ArrayList<>();
        for (String p : new LinkedHashSet<>(List.of(list.split(",")))) out.add(cacheOptions.settings(p.strip()));
        return out;
    }

    void checkThreads() {
        if (threads < 0) throw new Main.UsageException("--threads must be ≥ 0 (0 = all cores), got " + threads);
    }

    LlamaModel openModel() throws IOException {
        return modelOptions.open();
    }
}
