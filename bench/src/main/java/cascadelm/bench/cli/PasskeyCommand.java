package cascadelm.bench.cli;

import cascadelm.bench.eval.Charts;
import cascadelm.bench.eval.Lengths;
import cascadelm.bench.eval.PasskeyEval;
import cascadelm.bench.eval.Progress;
import cascadelm.bench.eval.ResultsFile;
import cascadelm.bench.eval.Table;
import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cli.Main;
import cascadelm.model.llama.LlamaModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code cascade-lm eval passkey}: passkey retrieval accuracy per length × depth, per cache policy. */
@Command(name = "passkey", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Passkey retrieval: a 5-digit key hidden at each depth of filler text of each length,"
                + " read by each --cache policy at equal settings, then greedy decoding.",
                "Writes passkey.json and a heat map passkey-<policy>.png per policy; prints accuracy per policy and length."})
final class PasskeyCommand extends BackendEvalCommand {
    @Option(names = "--lengths", required = true, paramLabel = "LIST",
            description = "Prompt lengths in tokens, e.g. 4k,8k,16k (k = 1024, m = 1024²).")
    String lengths;

    @Option(names = "--depths", defaultValue = "10", paramLabel = "N|LIST",
            description = "A count of evenly spaced depths from 0 to 1, or a list of fractions like 0.1,0.5,0.9 (default: ${DEFAULT-VALUE}).")
    String depths;

    @Option(names = "--trials", defaultValue = "1", paramLabel = "N",
            description = "Keys per length and depth (default: ${DEFAULT-VALUE}).")
    int trials;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Seed of the keys (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    String name() {
        return "passkey";
    }

    @Override
    public Integer call() throws IOException {
        List<Integer> lengthList = usage(() -> Lengths.parseList("--lengths", lengths));
        List<Double> depthList = usage(() -> PasskeyEval.depths("--depths", depths));
        if (trials < 1) throw new Main.UsageException("--trials must be at least 1, got " + trials);
        engine.checkThreads();
        List<CacheSettings> policies = engine.policies();
        try (LlamaModel model = engine.openModel(); Backend backend = openBackend()) {
            warnBeyondContext(model, policies, lengthList.stream().max(Integer::compare).orElseThrow());
            Path dir = outputDir();
            long total = (long) policies.size() * depthList.size() * trials
                    * lengthList.stream().mapToLong(Integer::longValue).sum();
            long t0 = System.nanoTime();
            List<PasskeyEval.Cell> cells;
            try (Progress progress = progress("passkey", total)) {
                cells = PasskeyEval.run(model, backend, policies, lengthList, depthList, trials, seed, progress);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;

            Map<String, Object> json = new LinkedHashMap<>();
            Map<String, Object> config = configuration(model, backend, policies);
            config.put("lengths", lengthList);
            config.put("depths", depthList);
            config.put("trials", trials);
            config.put("seed", seed);
            config.put("answerTokens", PasskeyEval.ANSWER_TOKENS);
            json.put("configuration", config);
            json.put("results", cells.stream().map(c -> Json.object("policy", c.policy(), "length", c.length(),
                    "depth", c.depth(), "accuracy", c.accuracy(), "trials", c.trials())).toList());
            json.put("seconds", seconds);
            Path file = dir.resolve("passkey.json");
            ResultsFile.write(file, json);
            wrote(file);

            List<String> depthLabels = depthList.stream().map(d -> String.format(Locale.ROOT, "%.0f%%", 100 * d)).toList();
            List<String> lengthLabels = lengthList.stream().map(Lengths::format).toList();
            Table table = new Table(header(lengthLabels));
            for (CacheSettings s : policies) {
                String policy = s.asMap().get("cache");
                double[][] acc = new double[lengthList.size()][depthList.size()];
                List<Object> row = new ArrayList<>(List.of(policy));
                for (int l = 0; l < lengthList.size(); l++) {
                    int correct = 0, n = 0;
                    for (int d = 0; d < depthList.size(); d++) {
                        PasskeyEval.Cell c = find(cells, policy, lengthList.get(l), depthList.get(d));
                        acc[l][d] = c.accuracy();
                        correct += c.correct();
                        n += c.trials().size();
                    }
                    row.add(String.format(Locale.ROOT, "%.0f%%", 100.0 * correct / n));
                }
                Path png = dir.resolve("passkey-" + policy + ".png");
                Charts.heatMap(png, "passkey accuracy, " + policy + " (" + describe(s) + ")",
                        "depth of the key", depthLabels, "prompt tokens", lengthLabels, acc);
                wrote(png);
                table.row(row.toArray());
            }
            stdout().print(table);
            stdout().flush();
        }
        return 0;
    }

    private static String[] header(List<String> lengthLabels) {
        List<String> h = new ArrayList<>(List.of("policy"));
        lengthLabels.forEach(l -> h.add("acc@" + l));
        return h.toArray(String[]::new);
    }

    private static PasskeyEval.Cell find(List<PasskeyEval.Cell> cells, String policy, int length, double depth) {
        return cells.stream().filter(c -> c.policy().equals(policy) && c.length() == length && c.depth() == depth)
                .findFirst().orElseThrow();
    }

    static String describe(CacheSettings s) {
        return switch (s.policy()) {
            case FULL -> "every token";
            case WINDOW -> "M=" + s.size();
            case SINK -> "S=" + s.sinks() + ", M=" + s.size();
            case CASCADE -> "S=" + s.sinks() + ", M=" + s.size() + ", C=" + s.cascades();
        } + ", stride " + s.stride();
    }
}
