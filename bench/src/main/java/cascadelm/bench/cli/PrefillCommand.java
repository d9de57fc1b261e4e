package cascadelm.bench.cli;

import cascadelm.bench.eval.Charts;
import cascadelm.bench.eval.Lengths;
import cascadelm.bench.eval.PrefillTiming;
import cascadelm.bench.eval.Progress;
import cascadelm.bench.eval.ResultsFile;
import cascadelm.bench.eval.Sessions;
import cascadelm.bench.eval.Table;
import cascadelm.kernels.cpu.CpuBackend;
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

/** {@code cascade-lm bench prefill}: prefill wall time against document length, per cache policy. */
@Command(name = "prefill", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Prefill time against length: random tokens read in strides into a fresh cache of each"
                + " --cache policy, after one warm-up run of the shortest length.",
                "Bounded policies should cost the same per token at every length; the full cache grows.",
                "Writes prefill.json and prefill.png (ms per token against length); prints the timings."})
final class PrefillCommand extends EvalCommandBase {
    @Option(names = "--lengths", required = true, paramLabel = "LIST",
            description = "Document lengths in tokens, e.g. 8k,16k,32k,64k (k = 1024, m = 1024²).")
    String lengths;

    @Option(names = "--full-max-length", paramLabel = "LEN",
            description = "Skip lengths above LEN for the full cache, whose cost grows quadratically (default: no limit).")
    String fullMaxLength;

    @Option(names = "--repeats", defaultValue = "1", paramLabel = "N",
            description = "Runs per length; the fastest counts (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Seed of the random tokens (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    String name() {
        return "prefill";
    }

    @Override
    public Integer call() throws IOException {
        List<Integer> lengthList = usage(() -> Lengths.parseList("--lengths", lengths)).stream().sorted().distinct().toList();
        int fullMax = fullMaxLength == null ? Integer.MAX_VALUE : usage(() -> Lengths.parse("--full-max-length", fullMaxLength));
        if (repeats < 1) throw new Main.UsageException("--repeats must be at least 1, got " + repeats);
        engine.checkThreads();
        List<CacheSettings> policies = engine.policies();
        try (LlamaModel model = engine.openModel(); CpuBackend backend = new CpuBackend(engine.threads)) {
            Map<CacheSettings, List<Integer>> plan = new LinkedHashMap<>();
            long total = 0;
            for (CacheSettings s : policies) {
                List<Integer> ls = s.policy() == CacheSettings.Policy.FULL
                        ? lengthList.stream().filter(l -> l <= fullMax).toList() : lengthList;
                plan.put(s, ls);
                if (!ls.isEmpty()) total += ls.getFirst() + repeats * ls.stream().mapToLong(Integer::longValue).sum();
            }
            warnBeyondContext(model, policies, plan.entrySet().stream()
                    .filter(e -> e.getKey().policy() == CacheSettings.Policy.FULL)
                    .flatMap(e -> e.getValue().stream()).max(Integer::compare).orElse(0));
            Path dir = outputDir();
            int vocab = model.config().vocabularySize();

            List<PrefillTiming.Point> points = new ArrayList<>();
            try (Progress progress = progress("prefill", total)) {
                for (var e : plan.entrySet()) {
                    if (e.getValue().isEmpty()) continue;
                    // Warm-up: lets the JIT compile the hot loops before anything is timed.
                    PrefillTiming.measure(model, backend, e.getKey(),
                            PrefillTiming.tokens(e.getValue().getFirst(), vocab, seed), progress);
                    for (int length : e.getValue()) {
                        int[] tokens = PrefillTiming.tokens(length, vocab, seed);
                        PrefillTiming.Point best = null;
                        for (int r = 0; r < repeats; r++) {
                            PrefillTiming.Point p = PrefillTiming.measure(model, backend, e.getKey(), tokens, progress);
                            if (best == null || p.nanos() < best.nanos()) best = p;
                        }
                        points.add(best);
                    }
                }
            }

            Map<String, Object> config = configuration(model, backend, policies);
            config.put("lengths", lengthList);
            config.put("fullMaxLength", fullMaxLength == null ? null : fullMax);
            config.put("repeats", repeats);
            config.put("seed", seed);
            config.put("tokens", "random ids in [0, vocabulary), SplittableRandom(seed)");
            List<Map<String, Object>> rows = points.stream().map(p -> Json.object("policy", p.policy(), "tokens", p.tokens(),
                    "seconds", p.nanos() / 1e9, "msPerToken", p.msPerToken(), "tokensPerSecond", p.tokensPerSecond(),
                    "cpuSeconds", p.cpuNanos() / 1e9, "cpuMsPerToken", p.cpuMsPerToken(),
                    "cacheBytes", p.cacheBytes(), "othersCpuShare", p.othersCpuShare())).toList();
            Path file = dir.resolve("prefill.json");
            ResultsFile.write(file, Json.object("configuration", config, "results", rows));
            wrote(file);

            Map<String, double[][]> series = new LinkedHashMap<>();
            for (CacheSettings s : policies) {
                String label = Sessions.label(s);
                series.put(label + (s.policy() == CacheSettings.Policy.FULL ? "" : " (" + PasskeyCommand.describe(s) + ")"),
                        points.stream().filter(p -> p.policy().equals(label))
                                .map(p -> new double[]{p.tokens(), p.msPerToken()}).toArray(double[][]::new));
            }
            series.values().removeIf(rowsOf -> rowsOf.length == 0);
            Path png = dir.resolve("prefill.png");
            Charts.lines(png, "prefill cost per token, " + engine.modelOptions.model.getFileName() + " on " + backend.name()
                            + " (" + backend.threads() + " threads)",
                    "document length (tokens)", "ms per token (wall)", series);
            wrote(png);

            Table table = new Table("policy", "tokens", "seconds", "ms/token", "vs shortest", "CPU ms/token",
                    "vs shortest", "others' CPU", "cache MiB");
            Map<String, PrefillTiming.Point> first = new LinkedHashMap<>();
            for (PrefillTiming.Point p : points) {
                PrefillTiming.Point base = first.computeIfAbsent(p.policy(), k -> p);
                table.row(p.policy(), Lengths.format(p.tokens()), String.format(Locale.ROOT, "%.2f", p.nanos() / 1e9),
                        String.format(Locale.ROOT, "%.4f", p.msPerToken()),
                        String.format(Locale.ROOT, "%+.1f%%", 100 * (p.msPerToken() / base.msPerToken() - 1)),
                        String.format(Locale.ROOT, "%.4f", p.cpuMsPerToken()),
                        String.format(Locale.ROOT, "%+.1f%%", 100 * (p.cpuMsPerToken() / base.cpuMsPerToken() - 1)),
                        String.format(Locale.ROOT, "%.0f%%", 100 * p.othersCpuShare()),
                        String.format(Locale.ROOT, "%.1f", p.cacheBytes() / 1048576.0));
            }
            stdout().print(table);
            stdout().flush();
        }
        return 0;
    }
}
