package cascadelm.bench.cli;

import cascadelm.bench.eval.Charts;
import cascadelm.bench.eval.Lengths;
import cascadelm.bench.eval.ModelIdentity;
import cascadelm.bench.eval.Progress;
import cascadelm.bench.eval.QaEval;
import cascadelm.bench.eval.ResultsFile;
import cascadelm.bench.eval.Sessions;
import cascadelm.bench.eval.Table;
import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cli.Main;
import cascadelm.model.llama.LlamaModel;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/** {@code cascade-lm eval qa}: exact match against the distance between a fact and its question, per cache policy. */
@Command(name = "qa", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Question answering on a generated corpus (cascade-lm corpus): each document is read once per"
                + " --cache policy, in strides; where a planted fact lies a requested distance back, the cache is"
                + " copied, the question asked on the copy and the greedy answer scored against the gold answer.",
                "Writes qa.json, qa.png (exact match against distance), qa-held.png (share of the answer's tokens still cached)"
                        + " and answers.jsonl (each answer as it comes); prints exact match per policy and distance."})
final class QaCommand extends BackendEvalCommand {
    @Option(names = "--corpus", required = true, paramLabel = "DIR",
            description = "Corpus folder holding documents.jsonl (as written by cascade-lm corpus).")
    Path corpus;

    @Option(names = "--distances", defaultValue = QaEval.DEFAULT_DISTANCES, paramLabel = "LIST",
            description = "Tokens between the end of the fact sentence and the question, e.g. 1k,4k,16k (k = 1024, m = 1024²)"
                    + " (default: ${DEFAULT-VALUE}).")
    String distances;

    @Option(names = "--max-tokens", defaultValue = "0", paramLabel = "N",
            description = "Read at most the first N tokens of each document; 0 = whole documents (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--documents", defaultValue = "0", paramLabel = "N",
            description = "Use the first N documents; 0 = all (default: ${DEFAULT-VALUE}).")
    int documents;

    @Override
    String name() {
        return "qa";
    }

    @Override
    public Integer call() throws IOException {
        List<Integer> distanceList = QaEval.distinctSorted(usage(() -> Lengths.parseList("--distances", distances)));
        if (maxTokens < 0) throw new Main.UsageException("--max-tokens must be ≥ 0 (0 = whole documents), got " + maxTokens);
        if (documents < 0) throw new Main.UsageException("--documents must be ≥ 0 (0 = all), got " + documents);
        engine.checkThreads();
        List<CacheSettings> policies = engine.policies();
        if (!Files.isRegularFile(corpus.resolve("documents.jsonl"))) {
            throw new Main.UsageException("--corpus: no documents.jsonl in " + corpus);
        }
        List<QaEval.Document> docs;
        try {
            docs = QaEval.readCorpus(corpus, documents);
        } catch (IOException | RuntimeException e) {
            throw new Main.UsageException("--corpus: " + corpus.resolve("documents.jsonl") + " is not a corpus: " + e.getMessage());
        }
        if (docs.isEmpty()) throw new Main.UsageException("--corpus: " + corpus + " has no documents");

        try (LlamaModel model = engine.openModel(); Backend backend = openBackend()) {
            List<QaEval.Tokens> tokens = new ArrayList<>();
            List<List<QaEval.Checkpoint>> checkpoints = new ArrayList<>();
            int longest = 0, asks = 0;
            for (QaEval.Document d : docs) {
                QaEval.Tokens t = QaEval.tokenize(model.tokenizer(), d.text());
                List<QaEval.Checkpoint> cs = QaEval.checkpoints(d.text(), t, d.questions(), distanceList, maxTokens);
                tokens.add(t);
                checkpoints.add(cs);
                if (!cs.isEmpty()) longest = Math.max(longest, cs.getLast().tokens());
                for (QaEval.Checkpoint c : cs) asks += c.asks().size();
            }
            if (asks == 0) {
                throw new Main.UsageException("no question can be asked at --distances " + distances
                        + ": the documents (or --max-tokens) are too short");
            }
            warnBeyondContext(model, policies, longest);
            Path dir = outputDir();

            Map<String, Object> config = configuration(model, backend, policies);
            config.put("corpus", Json.object("path", corpus.toAbsolutePath().normalize().toString(),
                    "sha256", ModelIdentity.sha256(corpus.resolve("documents.jsonl")),
                    "documents", docs.size(),
                    "documentTokens", tokens.stream().map(QaEval.Tokens::length).toList(),
                    "questions", docs.stream().mapToInt(d -> d.questions().size()).sum()));
            config.put("distances", distanceList);
            config.put("maxTokens", maxTokens);
            config.put("answerTokens", QaEval.ANSWER_TOKENS);
            config.put("prompt", "BOS + <text up to a sentence end>\\nQuestion: <question>\\nAnswer:");
            config.put("distanceDefinition", "tokens after the one ending the fact sentence, up to the end of the question's sentence (before its closing punctuation)");
            config.put("scoring", Json.object("exact", "answer, trimmed, equals the gold answer",
                    "contains", "the gold answer occurs in the answer, ignoring case"));
            config.put("held", "factHeld / answerHeld: share of (layer, KV head, token) triples of the fact sentence's"
                    + " tokens / of the gold answer's tokens in it that the cache held when the question was asked;"
                    + " answerCovered: share of the answer's tokens held by at least one layer and KV head");

            // Results are written after every document of every policy (qa.json marked partial until the end) and
            // each answer is appended to answers.jsonl as it comes, so a run that dies late keeps what it did.
            List<QaEval.Row> rows = new ArrayList<>();
            Map<String, Double> seconds = new LinkedHashMap<>();
            try (Progress progress = progress("qa", QaEval.plannedTokens(checkpoints) * policies.size());
                 BufferedWriter answersFile = Files.newBufferedWriter(dir.resolve("answers.jsonl"), StandardCharsets.UTF_8)) {
                Consumer<QaEval.Row> sink = r -> {
                    try {
                        answersFile.write(LINES.writeValueAsString(answer(r)));
                        answersFile.newLine();
                        answersFile.flush();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                };
                for (CacheSettings s : policies) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < docs.size(); i++) {
                        rows.addAll(QaEval.runDocument(model, backend, s, docs.get(i), tokens.get(i), checkpoints.get(i),
                                progress, sink));
                        seconds.put(Sessions.label(s), (System.nanoTime() - t0) / 1e9);
                        boolean done = s == policies.getLast() && i == docs.size() - 1;
                        if (!done) write(dir, config, policies, distanceList, rows, seconds, false);
                    }
                }
            }
            write(dir, config, policies, distanceList, rows, seconds, true);

            List<String> labels = policies.stream().map(Sessions::label).toList();
            List<QaEval.Bucket> buckets = QaEval.buckets(rows, labels, distanceList);
            List<String> header = new ArrayList<>(List.of("policy"));
            distanceList.forEach(d -> header.add("EM@" + Lengths.format(d)));
            header.add("EM all");
            header.add("contains all");
            Table table = new Table(header.toArray(String[]::new));
            for (String p : labels) {
                List<Object> row = new ArrayList<>(List.of(p));
                for (QaEval.Bucket b : buckets) {
                    if (!b.policy().equals(p)) continue;
                    row.add(b.n() == 0 ? "-" : String.format(Locale.ROOT, "%.0f%% (%d)", 100 * b.exactMatch(), b.n()));
                }
                List<QaEval.Row> mine = rows.stream().filter(r -> r.policy().equals(p)).toList();
                row.add(percent(mine.stream().filter(QaEval.Row::exact).count(), mine.size()));
                row.add(percent(mine.stream().filter(QaEval.Row::contains).count(), mine.size()));
                table.row(row.toArray());
            }
            stdout().print(table);
            List<String> heldHeader = new ArrayList<>(List.of("answer held"));
            distanceList.forEach(d -> heldHeader.add("@" + Lengths.format(d)));
            Table held = new Table(heldHeader.toArray(String[]::new));
            for (String p : labels) {
                List<Object> row = new ArrayList<>(List.of(p));
                for (QaEval.Bucket b : buckets) {
                    if (!b.policy().equals(p)) continue;
                    row.add(b.n() == 0 || Double.isNaN(b.answerHeld()) ? "-"
                            : String.format(Locale.ROOT, "%.0f%%", 100 * b.answerHeld()));
                }
                held.row(row.toArray());
            }
            stdout().println();
            stdout().print(held);
            stdout().flush();
        }
        return 0;
    }

    private static final ObjectMapper LINES = new ObjectMapper();

    /** qa.json, qa.png (exact match against distance) and qa-held.png (answer tokens still cached) for the rows so far. */
    private void write(Path dir, Map<String, Object> config, List<CacheSettings> policies, List<Integer> distanceList,
                       List<QaEval.Row> rows, Map<String, Double> seconds, boolean complete) throws IOException {
        List<String> labels = policies.stream().map(Sessions::label).toList();
        List<QaEval.Bucket> buckets = QaEval.buckets(rows, labels, distanceList);
        List<Object> summary = new ArrayList<>();
        for (QaEval.Bucket b : buckets) {
            summary.add(Json.object("policy", b.policy(), "distance", b.distance(), "n", b.n(),
                    "exactMatch", b.n() == 0 ? null : b.exactMatch(),
                    "contains", b.n() == 0 ? null : b.containsRate(),
                    "answerHeld", orNull(b.answerHeld())));
        }
        List<Object> perPolicy = new ArrayList<>();
        for (String p : labels) {
            List<QaEval.Row> mine = rows.stream().filter(r -> r.policy().equals(p)).toList();
            perPolicy.add(Json.object("policy", p, "n", mine.size(),
                    "exactMatch", mine.isEmpty() ? null : mine.stream().filter(QaEval.Row::exact).count() / (double) mine.size(),
                    "contains", mine.isEmpty() ? null : mine.stream().filter(QaEval.Row::contains).count() / (double) mine.size(),
                    "seconds", seconds.get(p)));
        }
        List<Map<String, Object>> answers = rows.stream().map(QaCommand::answer).toList();
        Path file = dir.resolve("qa.json");
        ResultsFile.write(file, Json.object("complete", complete, "configuration", config, "results", summary,
                "policies", perPolicy, "answers", answers));
        if (complete) wrote(file);

        String settings = PasskeyCommand.describe(policies.getFirst()).replaceFirst("^every token, ", "");
        String corpusName = String.valueOf(corpus.toAbsolutePath().normalize().getFileName());
        Map<String, double[][]> curves = new LinkedHashMap<>();
        Map<String, double[][]> heldCurves = new LinkedHashMap<>();
        for (String p : labels) {
            curves.put(p, buckets.stream().filter(b -> b.policy().equals(p))
                    .map(b -> new double[]{b.distance(), 100 * b.exactMatch()}).toArray(double[][]::new));
            heldCurves.put(p, buckets.stream().filter(b -> b.policy().equals(p))
                    .map(b -> new double[]{b.distance(), 100 * b.answerHeld()}).toArray(double[][]::new));
        }
        Path png = dir.resolve("qa.png");
        Charts.percentLinesLogX(png, "QA exact match vs distance, " + corpusName + " (" + settings + ")",
                "tokens between fact and question", "exact match (%)", curves);
        Path heldPng = dir.resolve("qa-held.png");
        Charts.percentLinesLogX(heldPng, "answer tokens still cached at the question, " + corpusName + " (" + settings + ")",
                "tokens between fact and question", "held (% of layer x KV head x token)", heldCurves);
        if (complete) {
            wrote(png);
            wrote(heldPng);
        }
    }

    private static Map<String, Object> answer(QaEval.Row r) {
        return Json.object("policy", r.policy(), "document", r.document(),
                "questionId", r.questionId(), "question", r.question(), "gold", r.gold(),
                "targetDistance", r.target(), "distance", r.distance(), "position", r.position(),
                "answer", r.answer(), "exact", r.exact(), "contains", r.contains(),
                "factHeld", orNull(r.factHeld()), "answerHeld", orNull(r.answerHeld()),
                "answerCovered", orNull(r.answerCovered()));
    }

    private static Double orNull(double x) {
        return Double.isNaN(x) ? null : x;
    }

    private static String percent(long k, long n) {
        return n == 0 ? "-" : String.format(Locale.ROOT, "%.0f%% (%d)", 100.0 * k / n, n);
    }
}
