package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import cascadelm.spark.io.ResultSchema;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The whole job in Spark's local mode, on a corpus the test writes, with the tiny fixture model. */
class CascadeJobLocalTest {
    @TempDir
    static Path dir;
    static TestCorpus corpus;
    static SparkSession spark;

    @BeforeAll
    static void start() throws IOException {
        corpus = TestCorpus.write(dir);
        // The job joins this session (as in a notebook); its spark.cascade.* conf is one settings layer.
        spark = SparkSession.builder().master("local[2]").appName("cascade-job-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                .config("spark.cascade.answer-max-tokens", "4")
                .getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static String[] args(Path output, String... more) {
        List<String> a = new ArrayList<>(List.of("--corpus", corpus.docs.toString(), "--questions", corpus.questions.toString(),
                "--output", output.toString(), "--settings", "../conf/cascade.properties",
                "--conf", "model=" + TestCorpus.MODEL, "--conf", "summary-max-tokens=8", "--conf", "cache-size=512",
                "--conf", "stride=128"));
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    @Test
    void everyInputKeyYieldsExactlyOneRowAndParquetAndArrowHoldTheSameRows() throws Exception {
        Path out = dir.resolve("out-main");
        SparkUi ui = new SparkUi();
        spark.sparkContext().addSparkListener(ui);
        JobOutput.Run run;
        try {
            run = JobOutput.run(args(out, "--rows", "5"));
            spark.sparkContext().listenerBus().waitUntilEmpty();
        } finally {
            spark.sparkContext().removeSparkListener(ui);
        }
        assertEquals(0, run.exitCode(), run.err());

        Dataset<Row> table = spark.read().parquet(out.resolve("parquet").toString());
        assertEquals(Set.copyOf(ResultSchema.COLUMNS), Set.of(table.columns()));
        assertEquals(DataTypes.LongType, table.schema().apply("tokens_in").dataType());
        assertEquals(DataTypes.DoubleType, table.schema().apply("prefill_ms").dataType());
        assertTrue(Files.isDirectory(out.resolve("parquet/task=summary")) && Files.isDirectory(out.resolve("parquet/task=qa")));

        List<ResultRow> rows = JobOutput.parquet(spark, out);
        assertEquals(corpus.keys.stream().sorted().toList(), rows.stream().map(JobOutput::key).sorted().toList(),
                "one row per input key, none missing, none twice");
        assertEquals(rows, JobOutput.arrow(out));

        Map<String, ResultRow> byKey = rows.stream().collect(Collectors.toMap(JobOutput::key, r -> r));
        for (String bad : List.of("blank.txt|summary|", "blank.txt|qa|q1", "latin1.txt|summary|", "nowhere.txt|qa|q1")) {
            assertEquals(ResultRow.ERROR, byKey.get(bad).status(), bad);
            assertFalse(byKey.get(bad).error().isBlank());
        }
        assertTrue(byKey.get("latin1.txt|summary|").error().contains("UTF-8"));
        assertTrue(byKey.get("nowhere.txt|qa|q1").error().contains("no document"));
        for (ResultRow r : rows) {
            if (r.status().equals(ResultRow.OK)) {
                assertTrue(r.tokensOut() <= (r.task().equals("qa") ? 4 : 8), "spark.cascade.* and --conf reach the executors: " + r);
                assertTrue(r.tokensIn() > 0 && r.text() != null && r.cache().startsWith("cascade("));
            }
        }
        assertTrue(byKey.containsKey("notes/winter.md|summary|"), "doc_id is the path relative to the corpus folder");

        JsonNode summary = new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
        assertEquals(corpus.keys.size(), summary.at("/table/rows").asLong());
        assertEquals(4, summary.at("/table/error").asLong());
        assertEquals(7, summary.at("/this_run/documents").asLong(), "every document, the unusable ones included");
        assertTrue(summary.at("/this_run/tokens_in").asLong() > 1000);
        double seconds = summary.at("/this_run/seconds").asDouble(), inBatches = summary.at("/this_run/seconds_in_batches").asDouble();
        assertEquals(seconds, summary.at("/this_run/seconds_planning").asDouble() + inBatches
                + summary.at("/this_run/seconds_writing_output").asDouble(), 0.0015);
        double model = summary.at("/this_run/model_seconds").asDouble();
        // Documents take turns on the one model of this JVM, so their model time fits inside the batches.
        assertTrue(model > 0 && model <= inBatches + 0.01, "model " + model + " s, batches " + inBatches + " s");
        assertEquals("4.2.0", summary.at("/versions/spark").asText());
        assertEquals("512", summary.at("/settings/cache-size").asText());
        assertTrue(run.out().contains("ferry.txt") && run.out().contains(out.resolve("arrow").toString()), run.out());

        // What the Spark UI shows: the job's accumulators on its stages, and what each Spark job is doing.
        assertEquals(7, ui.accumulator("cascade: documents done"));
        assertEquals(summary.at("/this_run/tokens_in").asLong(), ui.accumulator("cascade: tokens in"));
        assertEquals(rows.stream().filter(r -> r.status().equals(ResultRow.OK)).mapToLong(ResultRow::tokensOut).sum(),
                ui.accumulator("cascade: tokens out"));
        assertEquals(3, ui.accumulator("cascade: error rows"), "the documents' error rows (the question about no document is not one)");
        assertTrue(ui.accumulator("cascade: model milliseconds") > 0);
        assertTrue(ui.descriptions.stream().anyMatch(d -> d.startsWith("cascade: batch 1 of 1, 7 documents")), ui.descriptions.toString());
        assertTrue(ui.descriptions.stream().allMatch(d -> d.startsWith("cascade: ")), ui.descriptions.toString());

        JobOutput.Run again = JobOutput.run(args(out));
        assertEquals(CascadeJob.EXIT_USAGE, again.exitCode(), "an existing output is neither overwritten nor duplicated");
        assertTrue(again.err().contains("--resume"), again.err());
        assertEquals(1, again.err().lines().count(), again.err());
    }

    @Test
    void resumeRedoesExactlyTheRowsThatAreMissing() throws IOException {
        Path out = dir.resolve("out-resume");
        assertEquals(0, JobOutput.run(args(out)).exitCode());
        List<ResultRow> before = JobOutput.parquet(spark, out);

        // Lose some committed rows: one Parquet file of each task.
        Set<String> lost = new HashSet<>();
        Set<Path> filesBefore = parquetFiles(out);
        for (String task : List.of("summary", "qa")) {
            Path victim = filesBefore.stream().filter(p -> p.getParent().getFileName().toString().equals("task=" + task))
                    .findFirst().orElseThrow();
            for (Row r : spark.read().parquet(victim.toString()).collectAsList()) {
                lost.add(r.getAs("doc_id") + "|" + task + "|" + (r.getAs("question_id") == null ? "" : r.getAs("question_id")));
            }
            Files.delete(victim);
        }
        filesBefore = parquetFiles(out);
        assertFalse(lost.isEmpty());
        // And a killed run's uncommitted leftovers: a task output under _temporary, a staged Arrow folder.
        Path leftover = out.resolve("parquet/_temporary/0/task_202601010000_0001_m_000042/task=qa/part-00042-killed.c000.snappy.parquet");
        Files.createDirectories(leftover.getParent());
        Files.copy(filesBefore.stream().filter(p -> p.toString().contains("task=qa")).findFirst().orElseThrow(), leftover);
        Files.createDirectories(out.resolve("_arrow-staging-killed"));
        filesBefore = parquetFiles(out);

        JobOutput.Run run = JobOutput.run(args(out, "--resume"));
        assertEquals(0, run.exitCode(), run.err());
        List<ResultRow> after = JobOutput.parquet(spark, out);
        assertEquals(corpus.keys.stream().sorted().toList(), after.stream().map(JobOutput::key).sorted().toList());
        assertEquals(after, JobOutput.arrow(out), "the Arrow copy follows the resumed table");

        Set<Path> newFiles = new HashSet<>(parquetFiles(out));
        newFiles.removeAll(filesBefore);
        Set<String> redone = new HashSet<>();
        for (Path f : newFiles) {
            String task = f.getParent().getFileName().toString().substring("task=".length());
            for (Row r : spark.read().parquet(f.toString()).collectAsList()) {
                redone.add(r.getAs("doc_id") + "|" + task + "|" + (r.getAs("question_id") == null ? "" : r.getAs("question_id")));
            }
        }
        assertEquals(lost, redone, "exactly the lost keys were processed again");
        Map<String, ResultRow> old = new HashMap<>();
        before.forEach(r -> old.put(JobOutput.key(r), r));
        for (ResultRow r : after) {
            if (!lost.contains(JobOutput.key(r))) assertEquals(old.get(JobOutput.key(r)), r, "kept as it was");
        }
        JsonNode summary = new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
        assertEquals(corpus.keys.size() - lost.size(), summary.at("/this_run/keys_already_done").asLong());
        assertFalse(Files.exists(out.resolve("_arrow-staging-killed")));

        JobOutput.Run nothingLeft = JobOutput.run(args(out, "--resume"));
        assertEquals(0, nothingLeft.exitCode(), nothingLeft.err());
        assertEquals(after, JobOutput.parquet(spark, out), "a complete output stays as it is");
    }

    @Test
    void readsJsonLinesDocumentsAndParquetQuestionsAndRunsOnlyTheTasksAsked() throws IOException {
        Path docs = dir.resolve("documents.jsonl");
        Files.writeString(docs, """
                {"doc_id": "a", "title": "Dusk", "text": "The keeper lit the lamp at dusk and waited."}
                {"doc_id": "b", "text": "Mara counted the apple trees, forty in all."}
                {"doc_id": "c", "text": ""}
                """);
        StructType schema = new StructType().add("doc_id", "string").add("question_id", "string").add("question", "string");
        Path questions = dir.resolve("questions.parquet");
        spark.createDataFrame(List.of(RowFactory.create("a", "1", "Who lit the lamp?"), RowFactory.create("b", "1", "How many trees?"),
                RowFactory.create("c", "1", "Anything?")), schema).write().parquet(questions.toString());
        Path out = dir.resolve("out-jsonl");
        JobOutput.Run run = JobOutput.run("--corpus", docs.toString(), "--questions", questions.toString(), "--tasks", "qa",
                "--format", "parquet", "--output", out.toString(), "--conf", "model=" + TestCorpus.MODEL,
                "--conf", "document-prefix={title}\\n");
        assertEquals(0, run.exitCode(), run.err());
        List<ResultRow> rows = JobOutput.parquet(spark, out);
        assertEquals(List.of("a|qa|1", "b|qa|1", "c|qa|1"), rows.stream().map(JobOutput::key).toList());
        assertEquals(List.of("ok", "ok", "error"), rows.stream().map(ResultRow::status).toList());
        assertFalse(Files.exists(out.resolve("arrow")), "--format parquet writes no Arrow copy");
    }

    @Test
    void readsAParquetCorpusWithTitlesJsonLinesQuestionsAndASingleTextFile() throws IOException {
        StructType schema = new StructType().add("doc_id", "string").add("title", "string").add("text", "string").add("year", "int");
        Path docs = dir.resolve("documents.parquet");
        spark.createDataFrame(List.of(RowFactory.create("p1", "Dusk", "The keeper lit the lamp at dusk and waited.", 1901),
                RowFactory.create("p2", null, "Mara counted the apple trees, forty in all.", 1902)), schema).write().parquet(docs.toString());
        Path questions = Files.writeString(dir.resolve("parquet-questions.jsonl"), """
                {"doc_id": "p1", "question_id": "who", "question": "Who lit the lamp?"}
                {"doc_id": "p2", "question_id": "count", "question": "How many trees?"}
                """);
        Path out = dir.resolve("out-parquet-corpus");
        JobOutput.Run run = JobOutput.run("--corpus", docs.toString(), "--questions", questions.toString(), "--output", out.toString(),
                "--conf", "model=" + TestCorpus.MODEL, "--conf", "summary-max-tokens=4", "--conf", "document-prefix={title}\\n");
        assertEquals(0, run.exitCode(), run.err());
        List<ResultRow> rows = JobOutput.parquet(spark, out);
        assertEquals(List.of("p1|qa|who", "p1|summary|", "p2|qa|count", "p2|summary|"), rows.stream().map(JobOutput::key).sorted().toList());
        assertTrue(rows.stream().allMatch(ResultRow::ok), rows.toString());
        // The title is read before the text: p1's rows count its tokens, p2 (no title) has none to count.
        ResultRow withTitle = rows.stream().filter(r -> JobOutput.key(r).equals("p1|summary|")).findFirst().orElseThrow();
        JobOutput.Run untitled = JobOutput.run("--corpus", docs.toString(), "--tasks", "summary", "--output", dir.resolve("out-untitled").toString(),
                "--conf", "model=" + TestCorpus.MODEL, "--conf", "summary-max-tokens=4");
        assertEquals(0, untitled.exitCode(), untitled.err());
        ResultRow withoutTitle = JobOutput.parquet(spark, dir.resolve("out-untitled")).stream()
                .filter(r -> r.docId().equals("p1")).findFirst().orElseThrow();
        assertTrue(withTitle.tokensIn() > withoutTitle.tokensIn(), withTitle.tokensIn() + " vs " + withoutTitle.tokensIn());

        Path single = corpus.docs.resolve("ferry.txt");
        Path outSingle = dir.resolve("out-single");
        JobOutput.Run one = JobOutput.run("--corpus", single.toString(), "--output", outSingle.toString(),
                "--conf", "model=" + TestCorpus.MODEL, "--conf", "summary-max-tokens=4");
        assertEquals(0, one.exitCode(), one.err());
        assertEquals(List.of("ferry.txt|summary|"), JobOutput.parquet(spark, outSingle).stream().map(JobOutput::key).toList(),
                "a single text file is a corpus of one, named by its file name");
    }

    @Test
    void failsFastWithOneLineBeforeAnyWork() {
        Path out = dir.resolve("out-fail");
        JobOutput.Run noModel = JobOutput.run("--corpus", corpus.docs.toString(), "--output", out.toString(),
                "--conf", "model=" + dir.resolve("missing.gguf"));
        assertEquals(CascadeJob.EXIT_BAD_MODEL, noModel.exitCode());
        assertEquals(1, noModel.err().lines().count(), noModel.err());
        assertTrue(noModel.err().contains("missing.gguf"), noModel.err());

        JobOutput.Run notAModel = JobOutput.run("--corpus", corpus.docs.toString(), "--output", out.toString(),
                "--conf", "model=" + corpus.questions);
        assertEquals(CascadeJob.EXIT_BAD_MODEL, notAModel.exitCode(), notAModel.err());

        JobOutput.Run badSetting = JobOutput.run("--corpus", corpus.docs.toString(), "--output", out.toString(),
                "--conf", "model=" + TestCorpus.MODEL, "--conf", "cascades=0");
        assertEquals(CascadeJob.EXIT_USAGE, badSetting.exitCode());
        assertTrue(badSetting.err().contains("cascades"), badSetting.err());

        JobOutput.Run unknown = JobOutput.run("--corpus", corpus.docs.toString(), "--output", out.toString(), "--conf", "temprature=1");
        assertEquals(CascadeJob.EXIT_USAGE, unknown.exitCode());
        assertTrue(unknown.err().contains("'temprature'") && unknown.err().contains("--conf"), unknown.err());

        JobOutput.Run qaWithoutQuestions = JobOutput.run("--corpus", corpus.docs.toString(), "--tasks", "qa", "--output", out.toString());
        assertEquals(CascadeJob.EXIT_USAGE, qaWithoutQuestions.exitCode());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void helpListsEverySettingWithItsDefault() {
        JobOutput.Run help = JobOutput.run("--help");
        assertEquals(0, help.exitCode());
        for (String key : cascadelm.spark.core.JobSettings.defaults().keySet()) assertTrue(help.out().contains("  " + key + " = "), key);
        assertTrue(help.out().contains("--resume") && help.out().contains("cache-size = " + cascadelm.model.cache.CacheSettings.DEFAULTS.get("cache-size")), help.out());
        assertNotEquals("", help.out());
    }

    /** Records what the Spark UI is built from: job descriptions, and the accumulators of completed stages. */
    private static final class SparkUi extends SparkListener {
        final List<String> descriptions = new java.util.concurrent.CopyOnWriteArrayList<>();
        final Map<String, Long> accumulators = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public void onJobStart(SparkListenerJobStart job) {
            descriptions.add(String.valueOf(job.properties().getProperty("spark.job.description")));
        }

        @Override
        public void onStageCompleted(SparkListenerStageCompleted stage) {
            for (AccumulableInfo a : CollectionConverters.asJava(stage.stageInfo().accumulables()).values()) {
                String name = a.name().getOrElse(() -> "");
                // A stage reports each accumulator's total so far; the largest is the run's total.
                if (name.startsWith("cascade: ")) accumulators.merge(name, ((Number) a.value().get()).longValue(), Math::max);
            }
        }

        long accumulator(String name) {
            Long v = accumulators.get(name);
            if (v == null) throw new AssertionError("no accumulator '" + name + "' in the UI, only " + accumulators.keySet());
            return v;
        }
    }

    private static Set<Path> parquetFiles(Path out) throws IOException {
        try (Stream<Path> s = Files.walk(out.resolve("parquet"))) {
            return s.filter(p -> p.getFileName().toString().endsWith(".parquet")).collect(Collectors.toSet());
        }
    }
}
