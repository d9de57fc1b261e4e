package cascadelm.spark;

import cascadelm.spark.core.JobSettings;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one run did, written as DIR/_SUMMARY.json. Row counts are those of the committed table (exact);
 * documents, tokens and throughput are this run's (from the accumulators).
 */
record RunSummary(String runId, JobOptions options, JobSettings settings, DriverCheck.Result model,
                  long documentsQueued, long keysSkipped, int batches, int partitions, long documentsWithoutKey,
                  long questionsWithoutKey, long documentsDone, long tokensIn,
                  long tokensOut, long errorRows, long modelMs, Timing timing, Map<String, Long> table, int arrowFiles,
                  String sparkVersion) {

    static final String FILE = "_SUMMARY.json";

    /**
     * Where a run's time went, in milliseconds: reading and planning (up to the first batch), the batches
     * (the documents through the model, and their Parquet commits), and the output after them (the Arrow
     * copy, the row counts).
     */
    record Timing(long planMs, long batchesMs, long outputMs) {
        long totalMs() {
            return planMs + batchesMs + outputMs;
        }
    }

    Map<String, Object> asJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("run_id", runId);
        m.put("finished", Instant.now().toString());
        m.put("corpus", options.corpus);
        m.put("questions", options.questions);
        m.put("tasks", options.tasks);
        m.put("resumed", options.resume);
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("documents_to_do", documentsQueued);
        input.put("corpus_rows_without_doc_id", documentsWithoutKey);
        input.put("question_rows_without_key", questionsWithoutKey);
        m.put("input", input);
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("documents", documentsDone);
        run.put("keys_already_done", keysSkipped);
        run.put("batches", batches);
        run.put("partitions", partitions);
        run.put("tokens_in", tokensIn);
        run.put("tokens_out", tokensOut);
        run.put("error_rows", errorRows);
        long elapsedMs = timing.totalMs();
        run.put("seconds", elapsedMs / 1000.0);
        run.put("seconds_planning", timing.planMs() / 1000.0);
        run.put("seconds_in_batches", timing.batchesMs() / 1000.0);
        run.put("seconds_writing_output", timing.outputMs() / 1000.0);
        // Summed over the executors' documents: on one machine, seconds − model_seconds is what Spark costs.
        run.put("model_seconds", modelMs / 1000.0);
        double hours = elapsedMs / 3.6e6;
        run.put("documents_per_hour", hours > 0 ? Math.round(documentsDone / hours) : 0);
        run.put("tokens_per_second", elapsedMs > 0 ? Math.round((tokensIn + tokensOut) * 1000.0 / elapsedMs) : 0);
        m.put("this_run", run);
        m.put("table", table);
        Map<String, Object> files = new LinkedHashMap<>();
        files.put("parquet", new Path(options.output, JobRun.PARQUET).toString());
        if (arrowFiles > 0) files.put("arrow", new Path(options.output, ArrowOutput.FOLDER).toString());
        files.put("arrow_files", arrowFiles);
        m.put("output", files);
        m.put("model", Map.of("file", model.modelName(), "architecture", model.architecture(), "backend", model.backend(),
                "cache", model.cacheDescription()));
        m.put("settings", settings.asMap());
        Map<String, String> versions = new LinkedHashMap<>();
        versions.put("cascade-lm", Versions.CASCADE_LM);
        versions.put("spark", sparkVersion);
        versions.put("arrow", Versions.arrow());
        versions.put("java", System.getProperty("java.version"));
        m.put("versions", versions);
        return m;
    }

    void write(Configuration hadoop) throws IOException {
        Path file = new Path(options.output, FILE);
        FileSystem fs = file.getFileSystem(hadoop);
        Path tmp = new Path(options.output, "." + FILE + ".tmp");
        fs.setWriteChecksum(false);
        try (FSDataOutputStream out = fs.create(tmp, true)) {
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue((java.io.OutputStream) out, asJson());
        }
        fs.delete(file, false);
        if (!fs.rename(tmp, file)) throw new IOException("cannot rename " + tmp + " to " + file);
    }
}
