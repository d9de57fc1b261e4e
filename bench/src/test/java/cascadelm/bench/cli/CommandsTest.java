package cascadelm.bench.cli;

import cascadelm.bench.eval.Fixtures;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.FullCache;
import cascadelm.model.cli.Main;
import cascadelm.model.generate.Prompts;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.Session;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The eval and bench commands end to end on the fixture models, through the model CLI's entry point. */
class CommandsTest {
    static final Path MODEL = Fixtures.model("llama3-bpe.F32.gguf");
    static final List<String> SMALL_CASCADE = List.of("--cache-size", "64", "--cascades", "4", "--sinks", "8",
            "--stride", "48", "--threads", "2");

    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** Runs {@code command} with the shared {@code options} after it (options belong to the subcommand). */
    private int run(List<String> options, String... command) {
        String[] all = java.util.stream.Stream.concat(java.util.Arrays.stream(command), options.stream()).toArray(String[]::new);
        return Main.run(all, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private int run(String... args) {
        return run(List.of(), args);
    }

    private static JsonNode json(Path file) throws Exception {
        return new ObjectMapper().readTree(file.toFile());
    }

    private static void assertPng(Path png) throws Exception {
        assertTrue(Files.isRegularFile(png), png + " written");
        byte[] b = Files.readAllBytes(png);
        assertTrue(b.length > 1000, png + " has " + b.length + " bytes");
        assertEquals(0x89, b[0] & 0xff);
        assertEquals("PNG", new String(b, 1, 3, java.nio.charset.StandardCharsets.US_ASCII));
    }

    private String lastLine() {
        List<String> lines = out.toString().strip().lines().toList();
        return lines.getLast();
    }

    @Test
    void helpListsEvalAndBench() {
        assertEquals(0, run("--help"));
        String help = out.toString();
        for (String c : List.of("generate", "inspect", "eval", "bench")) assertTrue(help.contains(c), help);
    }

    @Test
    void passkeyWritesItsConfigurationResultsAndHeatMaps() throws Exception {
        Path o = dir.resolve("passkey");
        assertEquals(0, run(SMALL_CASCADE, "eval", "passkey", "--model", MODEL.toString(), "--lengths", "200,300",
                "--depths", "2", "--cache", "full,window,sink,cascade", "--seed", "7", "--out", o.toString()), err.toString());
        JsonNode j = json(o.resolve("passkey.json"));
        JsonNode c = j.get("configuration");
        assertEquals(64, c.get("model").get("sha256").asText().length());
        assertEquals(Files.size(MODEL), c.get("model").get("bytes").asLong());
        assertEquals(7, c.get("seed").asLong());
        assertEquals("[200,300]", c.get("lengths").toString());
        assertEquals("[0.0,1.0]", c.get("depths").toString());
        assertTrue(c.hasNonNull("date") && c.hasNonNull("arguments"), c.toString());
        for (String policy : List.of("full", "window", "sink", "cascade")) {
            JsonNode settings = c.get("policies").get(policy);
            for (String key : CacheSettings.DEFAULTS.keySet()) assertTrue(settings.has(key), policy + " lacks " + key);
            assertEquals("64", settings.get("cache-size").asText());
            assertPng(o.resolve("passkey-" + policy + ".png"));
        }
        assertEquals(4 * 2 * 2, j.get("results").size());
        JsonNode trial = j.get("results").get(0).get("trials").get(0);
        assertTrue(trial.get("key").asText().matches("[0-9]{5}") && trial.has("answer"), trial.toString());
        assertTrue(lastLine().startsWith("cascade"), "the table comes last: " + out);
    }

    @Test
    void perplexityEqualsAnIndependentFullAttentionComputation() throws Exception {
        Path text = Files.writeString(dir.resolve("text.txt"), "The cascading cache keeps a few tokens from far back. "
                + "Sinks are the first tokens of the document, kept forever. ".repeat(3)
                + "The window holds the most recent tokens; the older cascades hold sparser samples of the past.");
        Path o = dir.resolve("ppl");
        List<String> fits = List.of("--cache-size", "256", "--cascades", "4", "--sinks", "16", "--stride", "64", "--threads", "2");
        assertEquals(0, run(fits, "eval", "perplexity", "--model", MODEL.toString(), "--text", text.toString(),
                "--cache", "full,cascade", "--out", o.toString()), err.toString());
        JsonNode results = json(o.resolve("perplexity.json")).get("results");
        double full = results.get(0).get("perplexity").asDouble();
        double cascade = results.get(1).get("perplexity").asDouble();

        double expected;
        int tokens;
        try (LlamaModel model = LlamaModel.open(MODEL); CpuBackend backend = new CpuBackend(2)) {
            int[] t = Prompts.plain(model.tokenizer(), Files.readString(text));
            tokens = t.length;
            expected = independentPerplexity(model, backend, t);
        }
        assertTrue(tokens < 16 + 256, "the document fits the cascade (S + M = 272), so it must equal full: " + tokens);
        assertTrue(tokens > 2 * 64, "and spans several strides: " + tokens);
        assertEquals(expected, full, 1e-4 * expected, "full, strided, vs one pass");
        assertEquals(full, cascade, 1e-4 * full, "eager fill keeps every token: cascade ≡ full");
        assertPng(o.resolve("perplexity.png"));
        assertTrue(lastLine().startsWith("cascade"), out.toString());
    }

    /** One forward pass over the whole document, exact causal attention, log-softmax in double. */
    private static double independentPerplexity(LlamaModel model, CpuBackend backend, int[] t) {
        ModelConfig c = model.config();
        int vocab = c.vocabularySize();
        Session s = new Session(model, backend, new FullCache(c.layers(), c.kvHeads(), c.headDim(), t.length), t.length);
        float[] logits = s.forward(t, 0, t.length, new float[t.length * vocab]);
        double nll = 0;
        for (int i = 0; i + 1 < t.length; i++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < vocab; j++) max = Math.max(max, logits[i * vocab + j]);
            for (int j = 0; j < vocab; j++) sum += Math.exp((double) logits[i * vocab + j] - max);
            nll -= logits[i * vocab + t[i + 1]] - max - Math.log(sum);
        }
        return Math.exp(nll / (t.length - 1));
    }

    @Test
    void prefillTimesEveryPolicyAndWarnsPastTheTrainedContext() throws Exception {
        Path o = dir.resolve("prefill");
        assertEquals(0, run(SMALL_CASCADE, "bench", "prefill", "--model", MODEL.toString(), "--lengths", "256,2100",
                "--cache", "full,cascade", "--out", o.toString()), err.toString());
        JsonNode j = json(o.resolve("prefill.json"));
        assertEquals(4, j.get("results").size());
        for (JsonNode r : j.get("results")) assertTrue(r.get("msPerToken").asDouble() > 0, r.toString());
        assertTrue(err.toString().contains("warning: the full cache at 2,100 tokens"), err.toString());
        assertPng(o.resolve("prefill.png"));
        assertTrue(lastLine().startsWith("cascade"), out.toString());
    }

    @Test
    void fullMaxLengthLeavesTheLongRunsToTheBoundedPolicies() throws Exception {
        Path o = dir.resolve("prefill-capped");
        assertEquals(0, run(SMALL_CASCADE, "bench", "prefill", "--model", MODEL.toString(), "--lengths", "100,200",
                "--cache", "full,window", "--full-max-length", "150", "--out", o.toString()), err.toString());
        assertEquals(3, json(o.resolve("prefill.json")).get("results").size());
    }

    @Test
    void badOptionsAreUsageErrorsNamingTheOption() {
        assertEquals(2, run("eval", "passkey", "--model", MODEL.toString(), "--lengths", "4x"));
        assertTrue(err.toString().contains("--lengths"), err.toString());
        assertEquals(2, run("eval", "passkey", "--model", MODEL.toString(), "--lengths", "1k", "--cache", "full,bogus"));
        assertTrue(err.toString().contains("--cache"), err.toString());
        assertEquals(2, run("bench", "prefill", "--model", MODEL.toString(), "--lengths", "1k",
                "--cache-size", "100", "--cascades", "3"));
        assertTrue(err.toString().contains("--cache-size"), err.toString());
        assertEquals(2, run("eval", "perplexity", "--model", MODEL.toString(), "--text", dir.resolve("none.txt").toString()));
        assertTrue(err.toString().contains("--text"), err.toString());
        assertEquals(2, run("eval"));
    }

    @Test
    void aMissingModelExitsWithThree() {
        assertEquals(3, run("bench", "prefill", "--model", dir.resolve("nope.gguf").toString(), "--lengths", "1k"));
        assertTrue(err.toString().contains("nope.gguf"), err.toString());
    }

    @Test
    void qaAsksEveryQuestionAtItsDistancesAndWritesConfigurationResultsAnswersAndChart() throws Exception {
        // A slice of the sample corpus: its first document.
        Path corpus = Files.createDirectories(dir.resolve("corpus"));
        String first = Files.readAllLines(Path.of("..", "sample-data", "corpus", "documents.jsonl")).getFirst();
        Files.writeString(corpus.resolve("documents.jsonl"), first + "\n");
        Path o = dir.resolve("qa");
        assertEquals(0, run(SMALL_CASCADE, "eval", "qa", "--model", MODEL.toString(), "--corpus", corpus.toString(),
                "--distances", "64,200,1m", "--max-tokens", "900", "--cache", "full,window,sink,cascade",
                "--out", o.toString()), err.toString());
        JsonNode j = json(o.resolve("qa.json"));
        JsonNode c = j.get("configuration");
        assertEquals("qa", c.get("command").asText());
        assertEquals(64, c.get("model").get("sha256").asText().length());
        assertEquals(4, c.get("policies").size());
        assertEquals(64, c.get("policies").get("cascade").get("cache-size").asInt(), c.get("policies").toString());
        assertEquals(1, c.get("corpus").get("documents").asInt());
        assertEquals(List.of(64, 200, 1 << 20), new ObjectMapper().convertValue(c.get("distances"), List.class));
        assertEquals(900, c.get("maxTokens").asInt());
        assertEquals(16, c.get("answerTokens").asInt());
        JsonNode results = j.get("results");
        assertEquals(4 * 3, results.size());
        for (JsonNode r : results) {
            for (String f : List.of("policy", "distance", "n", "exactMatch", "contains")) assertTrue(r.has(f), r.toString());
        }
        assertEquals(0, results.get(2).get("n").asInt(), "1m is beyond the 900 tokens read");
        int n = results.get(0).get("n").asInt() + results.get(1).get("n").asInt();
        assertTrue(n >= 2, "questions asked: " + n);
        JsonNode answers = j.get("answers");
        assertEquals(4 * n, answers.size());
        for (JsonNode a : answers) {
            for (String f : List.of("policy", "document", "questionId", "question", "gold", "targetDistance", "distance",
                    "position", "answer", "exact", "contains")) assertTrue(a.has(f), a.toString());
            assertTrue(a.get("distance").asInt() >= a.get("targetDistance").asInt());
            assertTrue(a.get("position").asInt() <= 900);
        }
        assertEquals(4, j.get("policies").size());
        assertTrue(j.get("complete").asBoolean());
        int fullHeld = 0;
        for (JsonNode a : answers) {
            if (!a.get("policy").asText().equals("full") || a.get("answerHeld").isNull()) continue;
            assertEquals(1.0, a.get("answerHeld").asDouble(), a.toString());   // full attention keeps every token
            assertEquals(1.0, a.get("factHeld").asDouble(), a.toString());
            fullHeld++;
        }
        assertTrue(fullHeld > 0, "some answers occur word for word in their facts");
        assertEquals(answers.size(), Files.readAllLines(o.resolve("answers.jsonl")).size(), "every answer as it came");
        assertPng(o.resolve("qa.png"));
        assertPng(o.resolve("qa-held.png"));
        assertTrue(out.toString().strip().lines().findFirst().orElseThrow().startsWith("policy"), out.toString());
        assertTrue(lastLine().startsWith("cascade"), out.toString());
    }

    @Test
    void qaUsageErrors() {
        assertEquals(2, run("eval", "qa", "--model", MODEL.toString(), "--corpus", dir.resolve("none").toString()));
        assertTrue(err.toString().contains("--corpus"), err.toString());
        assertEquals(2, run("eval", "qa", "--model", MODEL.toString(), "--corpus", "../sample-data/corpus", "--distances", "1q"));
        assertTrue(err.toString().contains("--distances"), err.toString());
    }
}
