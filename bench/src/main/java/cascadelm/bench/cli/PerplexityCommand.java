package cascadelm.bench.cli;

import cascadelm.bench.eval.Charts;
import cascadelm.bench.eval.ModelIdentity;
import cascadelm.bench.eval.Progress;
import cascadelm.bench.eval.ResultsFile;
import cascadelm.bench.eval.Sessions;
import cascadelm.bench.eval.StreamingPerplexity;
import cascadelm.bench.eval.Table;
import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cli.Main;
import cascadelm.model.generate.Prompts;
import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code cascade-lm eval perplexity}: streaming perplexity of a long text, per cache policy. */
@Command(name = "perplexity", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Streaming perplexity: the text is read once, in strides, through each --cache policy;"
                + " every next token is scored from its stride's logits.",
                "Writes perplexity.json and perplexity.png (mean NLL against position); prints perplexity per policy."})
final class PerplexityCommand extends BackendEvalCommand {
    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text file to score.")
    Path text;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N",
            description = "Score only the first N tokens; 0 = the whole text (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--bins", defaultValue = "100", paramLabel = "N",
            description = "Points on the NLL curve: predictions are averaged in N equal bins (default: ${DEFAULT-VALUE}).")
    int bins;

    @Override
    String name() {
        return "perplexity";
    }

    @Override
    public Integer call() throws IOException {
        if (maxTokens < 0) throw new Main.UsageException("--max-tokens must be ≥ 0 (0 = all), got " + maxTokens);
        if (bins < 1) throw new Main.UsageException("--bins must be at least 1, got " + bins);
        engine.checkThreads();
        List<CacheSettings> policies = engine.policies();
        String content = readText();
        try (LlamaModel model = engine.openModel(); Backend backend = openBackend()) {
            int[] tokens = Prompts.plain(model.tokenizer(), content);
            if (maxTokens > 0 && tokens.length > maxTokens) tokens = Arrays.copyOf(tokens, maxTokens);
            if (tokens.length < 2) throw new Main.UsageException("--text: " + text + " has fewer than 2 tokens");
            warnBeyondContext(model, policies, tokens.length);
            Path dir = outputDir();

            Map<String, StreamingPerplexity.Result> results = new LinkedHashMap<>();
            try (Progress progress = progress("perplexity", (long) tokens.length * policies.size())) {
                for (CacheSettings s : policies) {
                    results.put(Sessions.label(s), StreamingPerplexity.run(model, backend, s, tokens, progress));
                }
            }

            int binSize = Math.max(1, (tokens.length - 1 + bins - 1) / bins);
            Map<String, double[][]> curves = new LinkedHashMap<>();
            List<Object> perPolicy = new ArrayList<>();
            for (var e : results.entrySet()) {
                double[][] curve = StreamingPerplexity.binned(e.getValue().nll(), binSize);
                curves.put(e.getKey(), curve);
                perPolicy.add(Json.object("policy", e.getKey(), "perplexity", e.getValue().perplexity(),
                        "meanNll", e.getValue().meanNll(), "predictions", e.getValue().nll().length,
                        "seconds", e.getValue().nanos() / 1e9,
                        "tokensPerSecond", tokens.length * 1e9 / e.getValue().nanos(),
                        "binSize", binSize, "curve", curve));
            }
            Map<String, Object> config = configuration(model, backend, policies);
            config.put("text", Json.object("path", text.toAbsolutePath().normalize().toString(),
                    "bytes", Files.size(text), "sha256", ModelIdentity.sha256(text)));
            config.put("tokens", tokens.length);
            config.put("maxTokens", maxTokens);
            config.put("bins", bins);
            Path file = dir.resolve("perplexity.json");
            ResultsFile.write(file, Json.object("configuration", config, "results", perPolicy));
            wrote(file);
            Path png = dir.resolve("perplexity.png");
            Charts.lines(png, "streaming NLL, " + Path.of(text.toString()).getFileName() + " (bins of " + binSize + " tokens)",
                    "token position", "mean NLL (nats)", curves);
            wrote(png);

            int n = tokens.length;
            StreamingPerplexity.Result full = results.get("full");
            Table table = new Table("policy", "tokens", "perplexity", "vs full", "tok/s");
            results.forEach((policy, r) -> table.row(policy, n,
                    String.format(Locale.ROOT, "%.4f", r.perplexity()),
                    full == null ? "-" : String.format(Locale.ROOT, "%+.2f%%", 100 * (r.perplexity() / full.perplexity() - 1)),
                    String.format(Locale.ROOT, "%.0f", n * 1e9 / r.nanos())));
            stdout().print(table);
            stdout().flush();
        }
        return 0;
    }

    private String readText() throws IOException {
        if (!Files.isRegularFile(text)) throw new Main.UsageException("--text: no such file: " + text);
        try {
            return Prompts.readUtf8(text);
        } catch (CharacterCodingException e) {
            throw new Main.UsageException("--text: " + text + " is not valid UTF-8 text");
        }
    }
}
