package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A corpus of 1,000 small documents through the whole job in local mode (a child JVM, 768 MiB heap): the
 * heap after GC, sampled every second against the documents done, has no upward trend. A leak of even one
 * document's cache (about 0.4 MiB with the settings here) would show as 400 MiB over the run.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ManyDocumentsMemoryTest {
    static final int DOCUMENTS = 1000;
    /** The most the fitted trend may add over the whole corpus. */
    static final double MAX_TREND_MIB = 24;

    @TempDir
    Path dir;

    @Test
    void aThousandDocumentsRunWithFlatMemory() throws Exception {
        Path corpus = dir.resolve("documents.jsonl");
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < DOCUMENTS; i++) {
            b.append(String.format(Locale.ROOT, "{\"doc_id\": \"d%04d\", \"text\": \"On day %d Mara counted %d apple trees and the keeper lit the lamp at dusk. "
                    + "Ilse painted the boat green while the storm came over the water.\"}%n", i, i, i * 7 % 100));
        }
        Files.writeString(corpus, b);
        Path out = dir.resolve("out");
        Path samples = dir.resolve("heap.csv");
        Path log = dir.resolve("job.log");
        Process p = ChildJvm.start(log, "-Xmx768m", List.of("-Dspark.master=local[2]", "-Dspark.ui.enabled=false", "-Dcascadelm.quiet=true"),
                ManyDocumentsProbe.class.getName(), List.of(samples.toString(), "--corpus", corpus.toString(), "--output", out.toString(),
                        "--format", "parquet", "--settings", "../conf/cascade.properties", "--conf", "model=" + TestCorpus.MODEL,
                        "--conf", "summary-max-tokens=4", "--conf", "cache-size=512", "--conf", "sinks=16", "--conf", "stride=128",
                        "--rows", "0"));
        if (!p.waitFor(9, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail("the job did not finish\n" + Files.readString(log));
        }
        assertEquals(0, p.exitValue(), Files.readString(log));

        try (SparkSession spark = SparkSession.builder().master("local[1]").appName("memory-check").config("spark.ui.enabled", "false").getOrCreate()) {
            List<ResultRow> rows = JobOutput.parquet(spark, out);
            assertEquals(DOCUMENTS, rows.size());
            assertTrue(rows.stream().allMatch(ResultRow::ok));
        }
        // The trend while documents are being done: from the first tenth on (class loading, Spark's start and
        // the first batch's caches are one-off costs) to the last document.
        List<HeapSampler.Sample> s = HeapSampler.read(samples).stream()
                .filter(x -> x.progress() >= DOCUMENTS / 10 && x.progress() < DOCUMENTS).toList();
        assertTrue(s.size() >= 5, "too few samples while documents were done: " + HeapSampler.read(samples));
        double slope = HeapSampler.slopeMiBPerUnit(s);
        double min = s.stream().mapToDouble(HeapSampler.Sample::usedMiB).min().orElseThrow();
        double max = s.stream().mapToDouble(HeapSampler.Sample::usedMiB).max().orElseThrow();
        System.out.printf(Locale.ROOT, "1000 documents: %d samples, heap after GC %.1f to %.1f MiB, trend %.2f MiB per 1000 documents%n",
                s.size(), min, max, slope * 1000);
        assertTrue(slope * DOCUMENTS <= MAX_TREND_MIB, String.format(Locale.ROOT, "heap trend %.1f MiB over %d documents: %s",
                slope * DOCUMENTS, DOCUMENTS, s));
    }
}
