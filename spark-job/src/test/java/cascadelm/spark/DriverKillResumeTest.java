package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The driver killed mid-run (SIGKILL, in a JVM of its own), then the job run again with --resume: the
 * batches committed before the kill are kept and not redone, the rest is done once, and no key is missing
 * or doubled. Waits poll for state with bounded deadlines.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DriverKillResumeTest {
    private static final int DOCUMENTS = 8;

    @TempDir
    static Path dir;
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("driver-kill-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void aKilledDriverLosesOnlyUncommittedBatchesAndResumeDoesTheRestOnce() throws Exception {
        Path corpus = dir.resolve("documents.jsonl");
        StringBuilder jsonl = new StringBuilder();
        Set<String> keys = new TreeSet<>();
        for (int i = 0; i < DOCUMENTS; i++) {
            String text = String.format(Locale.ROOT, "On day %d the keeper lit the lamp and Mara waited by the water. ", i).repeat(40);
            jsonl.append(String.format(Locale.ROOT, "{\"doc_id\": \"doc-%02d\", \"text\": \"%s\"}%n", i, text));
            keys.add(String.format(Locale.ROOT, "doc-%02d|summary|", i));
        }
        Files.writeString(corpus, jsonl);
        Path out = dir.resolve("out");
        List<String> args = List.of("--corpus", corpus.toString(), "--output", out.toString(), "--batch", "2",
                "--settings", "../conf/cascade.properties", "--conf", "model=" + TestCorpus.MODEL,
                "--conf", "summary-max-tokens=16", "--conf", "cache-size=128", "--conf", "sinks=8", "--conf", "stride=64",
                "--rows", "0");

        Path log = dir.resolve("driver.log");
        Process driver = ChildJvm.start(log, "-Xmx1g", List.of("-Dspark.master=local[2]", "-Dspark.ui.enabled=false",
                "-Dcascadelm.quiet=true"), CascadeJob.class.getName(), args);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
            while (committedFiles(out).isEmpty()) {
                if (!driver.isAlive()) fail("the job ended (exit " + driver.exitValue() + ") before its first commit\n" + Files.readString(log));
                if (System.nanoTime() > deadline) fail("no batch committed within 150 s\n" + Files.readString(log));
                Thread.sleep(100);
            }
            driver.destroyForcibly();   // SIGKILL: no shutdown hook, no cleanup, like a lost machine
            assertTrue(driver.waitFor(30, TimeUnit.SECONDS));
        } finally {
            driver.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            driver.destroyForcibly();
        }

        Map<String, ResultRow> committed = byKey(JobOutput.parquet(spark, out));
        assertFalse(committed.isEmpty());
        assertTrue(committed.size() < DOCUMENTS, "killed with work left (" + committed.size() + " of " + DOCUMENTS + " committed)");
        Set<Path> filesBefore = committedFiles(out);

        JobOutput.Run resumed = JobOutput.run(args.stream().collect(Collectors.collectingAndThen(Collectors.toList(), l -> {
            l.add("--resume");
            return l.toArray(String[]::new);
        })));
        assertEquals(0, resumed.exitCode(), resumed.err());

        List<ResultRow> after = JobOutput.parquet(spark, out);
        assertEquals(List.copyOf(keys), after.stream().map(JobOutput::key).toList(), "every key exactly once");
        assertTrue(after.stream().allMatch(ResultRow::ok));
        Map<String, ResultRow> afterByKey = byKey(after);
        committed.forEach((k, r) -> assertEquals(r, afterByKey.get(k), "committed before the kill, kept as it was"));

        Set<String> redone = new HashSet<>();
        for (Path f : committedFiles(out)) {
            if (filesBefore.contains(f)) continue;
            for (Row r : spark.read().parquet(f.toString()).collectAsList()) redone.add(r.getAs("doc_id") + "|summary|");
        }
        Set<String> missing = new TreeSet<>(keys);
        missing.removeAll(committed.keySet());
        assertEquals(missing, new TreeSet<>(redone), "the second run wrote exactly the keys the first had not committed");
        JsonNode summary = new ObjectMapper().readTree(out.resolve("_SUMMARY.json").toFile());
        assertEquals(committed.size(), summary.at("/this_run/keys_already_done").asLong());
        assertEquals(missing.size(), summary.at("/this_run/documents").asLong(), "documents processed by the second run");
        assertFalse(Files.exists(out.resolve("parquet/_temporary")), "the killed run's uncommitted files are gone");
    }

    private static Map<String, ResultRow> byKey(List<ResultRow> rows) {
        Map<String, ResultRow> m = new HashMap<>();
        for (ResultRow r : rows) assertEquals(null, m.put(JobOutput.key(r), r), "a key twice: " + JobOutput.key(r));
        return m;
    }

    /** The Parquet files a job commit published (task outputs in flight live under parquet/_temporary). */
    private static Set<Path> committedFiles(Path out) throws IOException {
        Path parquet = out.resolve("parquet");
        if (!Files.isDirectory(parquet)) return Set.of();
        try (Stream<Path> s = Files.walk(parquet)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".parquet") && !parquet.relativize(p).toString().startsWith("_"))
                    .collect(Collectors.toSet());
        } catch (java.io.UncheckedIOException e) {
            return Set.of();   // a commit renamed files while we walked; the next poll sees them
        }
    }
}
