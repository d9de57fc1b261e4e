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
 * heap after GC, sampled every second against the documents done, does not rise. A leak of even one
 * document's cache (about 0.4 MiB with the settings here) would add 200 MiB from one half to the other.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class ManyDocumentsMemoryTest {
    static final int DOCUMENTS = 1000;
    /**
     * The most the heap's floor or peak may rise from the first half of the run to the second: well above the
     * sawtooth of one batch (a peak sampled once a second on a loaded machine rose 18 MiB without any leak),
     * far below the 200 MiB that keeping one document's cache per document would add.
     */
    static final double MAX_RISE_MIB = 48;

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
        // While documents are being done (from the first tenth on: class loading, Spark's start and the first
        // batch are one-off costs), the heap after GC saws up and down within a batch (about 20 MiB here); a
        // leak would lift both the floor and the peaks. So the second half's floor and peak are compared with
        // the first half's.
        List<HeapSampler.Sample> s = HeapSampler.read(samples).stream()
                .filter(x -> x.progress() >= DOCUMENTS / 10 && x.progress() < DOCUMENTS).toList();
        assertTrue(s.size() >= 6, "too few samples while documents were done: " + HeapSampler.read(samples));
        List<HeapSampler.Sample> first = s.subList(0, s.size() / 2), second = s.subList(s.size() / 2, s.size());
        double floorRise = min(second) - min(first), peakRise = max(second) - max(first);
        System.out.printf(Locale.ROOT, "1000 documents: %d samples, heap after GC %.1f to %.1f MiB in the first half, %.1f to %.1f MiB in the second%n",
                s.size(), min(first), max(first), min(second), max(second));
        assertTrue(floorRise <= MAX_RISE_MIB && peakRise <= MAX_RISE_MIB,
                String.format(Locale.ROOT, "the heap rose (floor %+.1f MiB, peak %+.1f MiB): %s", floorRise, peakRise, s));
    }

    private static double min(List<HeapSampler.Sample> s) {
        return s.stream().mapToDouble(HeapSampler.Sample::usedMiB).min().orElseThrow();
    }

    private static double max(List<HeapSampler.Sample> s) {
        return s.stream().mapToDouble(HeapSampler.Sample::usedMiB).max().orElseThrow();
    }
}
