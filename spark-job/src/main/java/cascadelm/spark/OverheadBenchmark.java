package cascadelm.spark;

import cascadelm.spark.core.Document;
import cascadelm.spark.core.DocumentProcessor;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.TaskSpec;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Spark's overhead, measured: the same documents and questions through the engine called directly
 * ({@link DocumentProcessor} in a loop, as an executor would) and through the whole job in local mode
 * (session start, reading, balancing, Parquet commit, Arrow copy, summary included). One mode per JVM, so
 * neither inherits the other's warmed-up JIT or open model; {@code spark-job/bench/spark-overhead.sh}
 * runs both and writes the table. Prints one JSON line: wall seconds from the start of main, the process's CPU
 * seconds (user + system, all threads, JVM start included), the seconds of the document loop (direct) or of
 * the job's batches (spark), and the seconds documents held the model
 * ({@link cascadelm.spark.core.ProcessingListener}): wall − batch is set-up and output, batch − model is
 * what the batches spent around the model.
 *
 * <p>Usage: {@code OverheadBenchmark direct|spark DOCUMENTS.jsonl QUESTIONS.jsonl [key=value ...]}
 */
public final class OverheadBenchmark {
    private OverheadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        Path documents = Path.of(args[1]), questions = Path.of(args[2]);
        Map<String, String> conf = new LinkedHashMap<>();
        for (int i = 3; i < args.length; i++) conf.put(args[i].substring(0, args[i].indexOf('=')), args[i].substring(args[i].indexOf('=') + 1));
        long t0 = System.nanoTime();
        long docs, tokens;
        double modelSeconds, batchSeconds;
        if (mode.equals("direct")) {
            JobSettings settings = JobSettings.of(conf);
            Map<String, List<TaskSpec>> tasks = new LinkedHashMap<>();
            List<Document> corpus = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (JsonNode d : lines(json, documents)) {
                corpus.add(Document.of(d.get("doc_id").asText(), d.get("text").asText()));
                tasks.computeIfAbsent(d.get("doc_id").asText(), k -> new ArrayList<>(List.of(TaskSpec.summary())));
            }
            for (JsonNode q : lines(json, questions)) {
                List<TaskSpec> t = tasks.get(q.get("doc_id").asText());
                if (t != null) t.add(TaskSpec.question(q.get("question_id").asText(), q.get("question").asText()));
            }
            AtomicLong total = new AtomicLong(), modelNanos = new AtomicLong();
            DocumentProcessor p = new DocumentProcessor(ExecutorModel.get(settings), settings, (in, out, e, nanos) -> {
                total.addAndGet(in + out);
                modelNanos.addAndGet(nanos);
            });
            long loop = System.nanoTime();
            for (Document d : corpus) p.process(d, tasks.get(d.docId()));
            batchSeconds = (System.nanoTime() - loop) / 1e9;
            docs = corpus.size();
            tokens = total.get();
            modelSeconds = modelNanos.get() / 1e9;
        } else {
            Path out = Files.createTempDirectory("cascade-bench");
            // An empty settings file: both modes run on exactly the settings given here, whatever conf/ holds.
            Path none = Files.createFile(out.resolve("none.properties"));
            List<String> a = new ArrayList<>(List.of("--corpus", documents.toString(), "--questions", questions.toString(),
                    "--output", out.resolve("out").toString(), "--rows", "0", "--settings", none.toString()));
            conf.forEach((k, v) -> a.addAll(List.of("--conf", k + "=" + v)));
            PrintWriter quiet = new PrintWriter(PrintWriter.nullWriter());
            int code = CascadeJob.run(a.toArray(String[]::new), quiet, new PrintWriter(System.err, true));
            if (code != 0) throw new IllegalStateException("the job failed with exit code " + code);
            JsonNode s = new ObjectMapper().readTree(out.resolve("out/_SUMMARY.json").toFile());
            docs = s.at("/this_run/documents").asLong();
            tokens = s.at("/this_run/tokens_in").asLong() + s.at("/this_run/tokens_out").asLong();
            modelSeconds = s.at("/this_run/model_seconds").asDouble();
            batchSeconds = s.at("/this_run/seconds_in_batches").asDouble();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        double cpuSeconds = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
        System.out.printf(Locale.ROOT, "{\"mode\":\"%s\",\"documents\":%d,\"tokens\":%d,\"seconds\":%.2f,\"cpu_seconds\":%.2f,"
                        + "\"batch_seconds\":%.2f,\"model_seconds\":%.2f,\"tokens_per_second\":%.0f,\"documents_per_hour\":%.0f}%n",
                mode, docs, tokens, seconds, cpuSeconds, batchSeconds, modelSeconds, tokens / seconds, docs * 3600 / seconds);
        if (Boolean.getBoolean("cascadelm.bench.threads")) cpuByThread();
        System.exit(0);
    }

    /**
     * Where the CPU went, on stderr: seconds per thread group of the live threads (JIT compilers and GC
     * included), read from /proc on Linux; threads that already ended are the rest of the process's total.
     */
    private static void cpuByThread() throws IOException {
        Path tasks = Path.of("/proc/self/task");
        if (!Files.isDirectory(tasks)) return;
        double tick = 100.0;   // USER_HZ, 100 on every Linux this runs on
        Map<String, Double> groups = new java.util.TreeMap<>();
        try (var ids = Files.list(tasks)) {
            for (Path t : ids.toList()) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (IOException e) {
                    continue;   // the thread ended meanwhile
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                double seconds = (Long.parseLong(f[11]) + Long.parseLong(f[12])) / tick;
                // Numbered threads of one pool count together; the C1 and C2 compilers apart.
                groups.merge(name.matches("C[12] .*") ? name : name.replaceAll("[0-9]+", "#"), seconds, Double::sum);
            }
        }
        double cpu = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
        double live = groups.values().stream().mapToDouble(Double::doubleValue).sum();
        groups.entrySet().stream().filter(e -> e.getValue() >= 0.05).sorted(Map.Entry.<String, Double>comparingByValue().reversed())
                .forEach(e -> System.err.printf(Locale.ROOT, "cpu %8.2f s  %s%n", e.getValue(), e.getKey()));
        System.err.printf(Locale.ROOT, "cpu %8.2f s  (threads that ended)%n", cpu - live);
    }

    private static List<JsonNode> lines(ObjectMapper json, Path file) throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file)) {
            for (String line; (line = r.readLine()) != null; ) if (!line.isBlank()) nodes.add(json.readTree(line));
        }
        return nodes;
    }
}
