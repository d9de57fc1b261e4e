package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Documents, questions and options nobody checked: each has a documented outcome — an error row naming the
 * reason, or one line before any work — and every input key yields exactly one row. RELIABILITY.md lists
 * them. The timeout is a guard against hangs (a named pipe read forever), not a speed target.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class HostileInputTest {
    @TempDir
    static Path dir;
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("hostile-input-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    private static List<String> settings(String... more) {
        List<String> a = new ArrayList<>(List.of("--conf", "model=" + TestCorpus.MODEL, "--conf", "summary-max-tokens=4",
                "--conf", "answer-max-tokens=4", "--conf", "cache-size=128", "--conf", "sinks=8", "--conf", "stride=128",
                "--settings", "../conf/cascade.properties", "--rows", "0"));
        a.addAll(List.of(more));
        return a;
    }

    private static JobOutput.Run job(List<String> args) {
        return JobOutput.run(args.toArray(String[]::new));
    }

    @Test
    void badFilesInATextFolderEachGiveErrorRowsAndTheGoodOnesAnswers() throws Exception {
        Path docs = Files.createDirectories(dir.resolve("folder/docs"));
        String good = "The keeper lit the lamp at dusk and Mara waited by the water. ".repeat(10);
        Files.writeString(docs.resolve("good.txt"), good);
        Files.createDirectories(docs.resolve("sub"));
        Files.writeString(docs.resolve("sub/deep.md"), good);
        Files.write(docs.resolve("empty.txt"), new byte[0]);
        Files.writeString(docs.resolve("blank.txt"), " \n\t\r\n ");
        Files.write(docs.resolve("latin1.txt"), "caf\u00e9 noir".getBytes(StandardCharsets.ISO_8859_1));
        byte[] noise = new byte[4096];
        new Random(7).nextBytes(noise);
        noise[0] = (byte) 0xFF;   // never valid in UTF-8
        Files.write(docs.resolve("binary.txt"), noise);
        Files.write(docs.resolve("nul.txt"), "valid UTF-8\0with NUL bytes\0".getBytes(StandardCharsets.UTF_8));
        // Ten million characters: more tokens than the cap set below, refused after tokenizing (about a second).
        Files.writeString(docs.resolve("huge.txt"), "Mara counted the apple trees. ".repeat(10_000_000 / 30 + 1));
        Files.createSymbolicLink(docs.resolve("broken.txt"), dir.resolve("nowhere.txt"));
        Process mkfifo = new ProcessBuilder("mkfifo", docs.resolve("pipe.txt").toString()).start();
        assertEquals(0, mkfifo.waitFor(), "mkfifo");
        Files.writeString(docs.resolve(".hidden.txt"), good);

        Path questions = dir.resolve("folder/questions.csv");
        String longQuestion = "Why " + "and why ".repeat(100_000 / 8) + "?";
        Files.writeString(questions, "doc_id,question_id,question\n"
                + "good.txt,q1,Who lit the lamp?\n"
                + "good.txt,long,\"" + longQuestion + "\"\n"
                + "good.txt,empty,\n"
                + "good.txt,dup,Who waited?\n"
                + "good.txt,dup,Who waited by the water?\n"
                + "nowhere.txt,q1,Is this anywhere?\n"
                + "good.txt,,A question without an id\n");

        Path out = dir.resolve("folder/out");
        JobOutput.Run run = job(settings("--corpus", docs.toString(), "--questions", questions.toString(), "--output", out.toString(),
                "--conf", "max-document-tokens=1000000"));
        assertEquals(0, run.exitCode(), run.err());

        Map<String, ResultRow> rows = byKey(JobOutput.parquet(spark, out));
        List<String> summaries = List.of("good.txt", "sub/deep.md", "empty.txt", "blank.txt", "latin1.txt", "binary.txt", "nul.txt",
                "huge.txt", "broken.txt", "pipe.txt");
        Set<String> expected = new TreeSet<>();
        summaries.forEach(d -> expected.add(d + "|summary|"));
        expected.addAll(List.of("good.txt|qa|q1", "good.txt|qa|long", "good.txt|qa|empty", "good.txt|qa|dup", "nowhere.txt|qa|q1"));
        assertEquals(expected, new TreeSet<>(rows.keySet()), "one row per input key (hidden files are not documents)");
        assertEquals(JobOutput.parquet(spark, out).size(), rows.size(), "no key twice");

        for (String ok : List.of("good.txt|summary|", "sub/deep.md|summary|", "good.txt|qa|q1")) {
            assertEquals(ResultRow.OK, rows.get(ok).status(), ok + ": " + rows.get(ok).error());
        }
        Map<String, String> reasons = Map.of(
                "empty.txt|summary|", "empty",
                "blank.txt|summary|", "empty (only white space)",
                "latin1.txt|summary|", "not valid UTF-8",
                "binary.txt|summary|", "not valid UTF-8",
                "nul.txt|summary|", "NUL characters",
                "huge.txt|summary|", "more than max-document-tokens (1000000)",
                "broken.txt|summary|", "does not exist (a broken link?)",
                "pipe.txt|summary|", "not a regular file",
                "good.txt|qa|long", "more than max-question-tokens (4096)",
                "good.txt|qa|empty", "the question is empty");
        reasons.forEach((key, reason) -> {
            ResultRow r = rows.get(key);
            assertEquals(ResultRow.ERROR, r.status(), key);
            assertTrue(r.error().contains(reason), key + ": " + r.error());
        });
        assertTrue(rows.get("good.txt|qa|dup").error().contains("question_id given to 2 questions"), rows.get("good.txt|qa|dup").error());
        assertTrue(rows.get("nowhere.txt|qa|q1").error().contains("no document with this doc_id"));

        JsonNode summary = new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
        assertEquals(1, summary.at("/input/question_rows_without_key").asLong(), "the question without an id is counted");
        assertTrue(run.err().contains("1 question rows have no doc_id or no question_id"), run.err());
        assertEquals(expected.size(), summary.at("/table/rows").asLong());
    }

    @Test
    void tableCorporaWithDuplicatesNullsAndHostileDocIdsKeepEveryKeyAndWriteOnlyUnderOutput() throws Exception {
        Path root = Files.createDirectories(dir.resolve("table"));
        Path docs = root.resolve("documents.jsonl");
        String text = "Ilse painted the boat green on the first day of the storm. ".repeat(8);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Function<String, byte[]> utf8 = s -> s.getBytes(StandardCharsets.UTF_8);
        for (String line : List.of(
                "{\"doc_id\": \"a\", \"text\": \"" + text + "\"}",
                "{\"doc_id\": \"a\", \"text\": \"a second document with the same id\"}",
                "{\"doc_id\": null, \"text\": \"a document without an id\"}",
                "{\"text\": \"another document without an id\"}",
                "{\"doc_id\": \"no-text\", \"title\": null, \"text\": null}",
                "{\"doc_id\": \"../../escape\", \"text\": \"" + text + "\"}",
                "{\"doc_id\": \"/tmp/absolute-cascade-escape\", \"text\": \"" + text + "\"}",
                "{\"doc_id\": \"nul\\u0000in id\", \"text\": \"" + text + "\"}",
                "{\"doc_id\": \"task=qa/../../x\", \"text\": \"" + text + "\"}",
                "{\"doc_id\": \"nul-text\", \"text\": \"binary\\u0000data\"}",
                "{\"doc_id\": 42, \"text\": \"" + text + "\"}")) {
            b.writeBytes(utf8.apply(line + "\n"));
        }
        // Invalid UTF-8 inside a JSON string.
        b.writeBytes(utf8.apply("{\"doc_id\": \"bad-bytes\", \"text\": \"caf"));
        b.write(0xE9);
        b.writeBytes(utf8.apply(" noir\"}\n"));
        Files.write(docs, b.toByteArray());
        Path questions = root.resolve("questions.jsonl");
        Files.writeString(questions, """
                {"doc_id": "a", "question_id": "q", "question": "Which colour?"}
                {"doc_id": "../../escape", "question_id": "q", "question": null}
                {"doc_id": "../../escape", "question_id": "../q", "question": "Which day?"}
                {"doc_id": "missing", "question_id": "q", "question": "Where?"}
                {"doc_id": "a", "question_id": null, "question": "No id"}
                """);

        Path out = Files.createDirectories(root.resolve("sandbox")).resolve("out");
        Set<Path> before = files(dir);
        JobOutput.Run run = job(settings("--corpus", docs.toString(), "--questions", questions.toString(), "--output", out.toString()));
        assertEquals(0, run.exitCode(), run.err());

        Map<String, ResultRow> rows = byKey(JobOutput.parquet(spark, out));
        Set<String> expected = new TreeSet<>(List.of("a|summary|", "no-text|summary|", "../../escape|summary|",
                "/tmp/absolute-cascade-escape|summary|", "nul\0in id|summary|", "task=qa/../../x|summary|", "nul-text|summary|",
                "42|summary|", "a|qa|q", "../../escape|qa|q", "../../escape|qa|../q", "missing|qa|q"));
        // A line with invalid UTF-8 is a corrupt record to Spark's JSON reader: no doc_id can be read from it,
        // so it is counted with the rows without one (below) and reported.
        assertEquals(expected, new TreeSet<>(rows.keySet()));
        assertTrue(rows.get("a|summary|").error().contains("doc_id given to 2 documents"), rows.get("a|summary|").error());
        assertTrue(rows.get("a|qa|q").error().contains("doc_id given to 2 documents"), "a duplicate's questions say so too");
        assertTrue(rows.get("no-text|summary|").error().contains("no text"));
        assertTrue(rows.get("nul-text|summary|").error().contains("NUL"));
        assertTrue(rows.get("../../escape|qa|q").error().contains("the question is empty"));
        for (String ok : List.of("../../escape|summary|", "/tmp/absolute-cascade-escape|summary|", "nul\0in id|summary|",
                "task=qa/../../x|summary|", "42|summary|", "../../escape|qa|../q")) {
            assertEquals(ResultRow.OK, rows.get(ok).status(), ok + ": " + rows.get(ok).error());
        }

        JsonNode summary = new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
        assertEquals(3, summary.at("/input/corpus_rows_without_doc_id").asLong(), "two without an id, one not readable");
        assertTrue(run.err().contains("3 corpus rows have no doc_id"), run.err());
        assertEquals(1, summary.at("/input/question_rows_without_key").asLong());

        // Nothing was written outside --output: the files elsewhere are exactly those there were.
        Set<Path> after = files(dir);
        after.removeIf(p -> p.startsWith(out));
        assertEquals(before, after);
        assertFalse(Files.exists(Path.of("/tmp/absolute-cascade-escape")));
        try (Stream<Path> s = Files.walk(out)) {
            Set<String> names = s.map(p -> out.relativize(p).toString()).collect(Collectors.toSet());
            assertTrue(names.stream().allMatch(n -> n.isEmpty() || n.matches("(parquet|arrow|_SUMMARY\\.json)(/.*)?")), names.toString());
            assertTrue(names.stream().noneMatch(n -> n.contains("escape") || n.contains("..")), names.toString());
        }
    }

    @Test
    void badPathsOptionsAndOutputFoldersStopBeforeAnyWorkWithOneLine() throws IOException {
        Path docs = Files.createDirectories(dir.resolve("opts/docs"));
        Files.writeString(docs.resolve("a.txt"), "Mara waited by the water.");
        Path out = dir.resolve("opts/out");
        Path aFile = Files.writeString(dir.resolve("opts/a-file"), "x");
        Path foreign = Files.createDirectories(dir.resolve("opts/someone-elses"));
        Path precious = Files.writeString(foreign.resolve("thesis.tex"), "years of work");
        Files.createSymbolicLink(dir.resolve("opts/dangling"), dir.resolve("opts/gone"));

        record Case(List<String> args, String says) {
        }
        List<Case> cases = List.of(
                new Case(List.of("--corpus", dir.resolve("opts/none").toString(), "--output", out.toString()), "no such file or folder"),
                new Case(List.of("--corpus", dir.resolve("opts/dangling").toString(), "--output", out.toString()), "no such file or folder"),
                new Case(List.of("--corpus", docs.toString(), "--questions", dir.resolve("opts/q.csv").toString(), "--output", out.toString()),
                        "--questions: no such file"),
                new Case(List.of("--corpus", docs.toString(), "--output", aFile.toString()), "is a file"),
                new Case(List.of("--corpus", docs.toString(), "--output", foreign.toString()), "not cascade-job output"),
                new Case(List.of("--corpus", docs.toString(), "--output", foreign.toString(), "--overwrite"), "nothing was deleted"),
                new Case(List.of("--corpus", docs.toString(), "--output", foreign.toString(), "--resume"), "not cascade-job output"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--partitions", "-1"), "--partitions"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--batch", "-2"), "--batch"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--rows", "-1"), "--rows"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--partitions", "many"), "--partitions"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--format", "csv"), "--format"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--tasks", "translate"), "--tasks"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--conf", "no-equals-sign"), "--conf"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--conf", "stride=0"), "stride"),
                new Case(List.of("--corpus", docs.toString(), "--output", out.toString(), "--settings", dir.resolve("opts/x.properties").toString()),
                        "--settings"),
                new Case(List.of("--corpus", docs.toString(), "--output", out + "\0x"), "--output"));
        for (Case c : cases) {
            List<String> args = new ArrayList<>(c.args());
            if (!args.contains("--settings")) args.addAll(List.of("--settings", "../conf/cascade.properties"));
            args.addAll(List.of("--conf", "model=" + TestCorpus.MODEL));
            JobOutput.Run run = job(args);
            assertEquals(CascadeJob.EXIT_USAGE, run.exitCode(), c + "\n" + run.err());
            assertTrue(run.err().contains(c.says()), c + ": " + run.err());
            assertEquals(1, run.err().lines().count(), c + ": " + run.err());
        }
        assertFalse(Files.exists(out), "no case did any work");
        assertEquals("years of work", Files.readString(precious));
        assertEquals("x", Files.readString(aFile));
    }

    private static Map<String, ResultRow> byKey(List<ResultRow> rows) {
        return rows.stream().collect(Collectors.toMap(JobOutput::key, r -> r, (x, y) -> {
            throw new AssertionError("a key twice: " + JobOutput.key(x));
        }));
    }

    private static Set<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.collect(Collectors.toCollection(java.util.HashSet::new));
        }
    }
}
