package cascadelm.spark;

import cascadelm.spark.core.CommitBatches;
import cascadelm.spark.core.Document;
import cascadelm.spark.core.InputGroup;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.Question;
import cascadelm.spark.core.ResultKey;
import cascadelm.spark.core.ResultRow;
import cascadelm.spark.core.TaskSpec;
import cascadelm.spark.core.TokenBalancer;
import cascadelm.spark.core.WorkItem;
import cascadelm.spark.io.CorpusReader;
import cascadelm.spark.io.ResultSchema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.PartitionPruningRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

import java.io.IOException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.when;

/**
 * One run of the job on a Spark session: read, balance, process, write. The order of the writes is what
 * makes runs safe to kill and repeat: Parquet is committed through Spark's commit protocol (a killed run
 * leaves nothing visible), then the Arrow copy is rebuilt from the committed table, and --resume reads the
 * committed keys back and skips them.
 */
final class JobRun {
    static final String PARQUET = "parquet";

    private final SparkSession spark;
    private final JobOptions options;
    private final JobSettings settings;
    private final DriverCheck.Result model;
    private final java.io.PrintWriter err;

    JobRun(SparkSession spark, JobOptions options, JobSettings settings, DriverCheck.Result model, java.io.PrintWriter err) {
        this.err = err;
        this.spark = spark;
        this.options = options;
        this.settings = settings;
        this.model = model;
    }

    RunSummary run() throws IOException {
        long start = System.nanoTime();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = sc.hadoopConfiguration();
        Path output = new Path(options.output);
        FileSystem fs = output.getFileSystem(hadoop);
        Path parquet = new Path(output, PARQUET);
        String runId = Long.toString(System.currentTimeMillis(), 36);

        Set<ResultKey> done = options.resume ? committedKeys(sc, parquet, fs) : Set.of();
        Broadcast<Set<ResultKey>> doneKeys = sc.broadcast(done);
        boolean summaries = options.tasks.contains(TaskSpec.SUMMARY);
        boolean questions = options.tasks.contains(TaskSpec.QA) && options.questions != null;

        // Documents and questions meet in one shuffle (a cogroup by doc_id, null keys included) that sorts out
        // duplicates, orphans and keyless rows, and one Spark job collects what the driver needs to plan.
        sc.setJobDescription("cascade: reading the corpus");
        JavaRDD<Document> documents = CorpusReader.documents(spark, options.corpus).javaRDD()
                .map(r -> new Document(r.getAs("doc_id"), r.getAs("title"), r.getAs("text"), r.getAs("problem")));
        JavaRDD<Question> questionRows = questions
                ? CorpusReader.questions(spark, options.questions).javaRDD()
                        .map(r -> new Question(r.getAs("doc_id"), r.getAs("question_id"), r.getAs("question")))
                : sc.emptyRDD();
        JavaRDD<InputGroup> groups = documents.keyBy(Document::docId).cogroup(questionRows.keyBy(Question::docId))
                .map(g -> InputGroup.of(g._1(), g._2()._1(), g._2()._2(), summaries, doneKeys.value()))
                .persist(StorageLevel.MEMORY_AND_DISK_SER());
        JobSettings s = settings;   // a local, so that the closure does not capture this JobRun
        List<Tally> tallies = groups.filter(g -> g.work() != null || g.keylessDocuments() + g.keylessQuestions() > 0)
                .map(g -> new Tally(g.work() == null ? null : new TokenBalancer.Cost(g.work().document().docId(), g.work().estimatedTokens(s)),
                        g.keylessDocuments(), g.keylessQuestions()))
                .collect();
        List<TokenBalancer.Cost> costs = tallies.stream().map(Tally::cost).filter(java.util.Objects::nonNull).toList();
        long documentsWithoutKey = tallies.stream().mapToLong(Tally::keylessDocuments).sum();
        long questionsWithoutKey = tallies.stream().mapToLong(Tally::keylessQuestions).sum();
        warnKeyless(documentsWithoutKey, "corpus rows have no doc_id (or are not readable: JSON or UTF-8 broken)");
        warnKeyless(questionsWithoutKey, "question rows have no doc_id or no question_id (or are not readable)");
        long totalTokens = costs.stream().mapToLong(TokenBalancer.Cost::tokens).sum();
        List<List<TokenBalancer.Cost>> batches = CommitBatches.split(costs, options.batch, sc.defaultParallelism());

        JobMetrics metrics = new JobMetrics(spark.sparkContext());
        String backend = model.backend(), modelName = model.modelName(), cache = model.cacheDescription();
        JavaRDD<ResultRow> orphanRows = groups.flatMap(g -> g.orphans().iterator())
                .map(k -> ResultRow.error(k, backend, modelName, cache, "no document with this doc_id in the corpus"));
        JavaRDD<WorkItem> work = groups.filter(g -> g.work() != null).map(InputGroup::work);

        // Every batch gets its own range of partitions of one shuffle, balanced by tokens within the batch: the
        // corpus is shuffled once, and each batch's job reads only its own partitions.
        int batchCount = Math.max(1, batches.size());
        int[] firstPartition = new int[batchCount + 1];
        Map<String, Integer> assignment = new HashMap<>();
        int maxPartitions = 0;
        for (int b = 0; b < batchCount; b++) {
            List<TokenBalancer.Cost> batch = b < batches.size() ? batches.get(b) : List.of();
            int partitions = options.partitions > 0 ? Math.min(options.partitions, Math.max(1, batch.size()))
                    : TokenBalancer.defaultPartitions(batch, sc.defaultParallelism());
            maxPartitions = Math.max(maxPartitions, partitions);
            int offset = firstPartition[b];
            TokenBalancer.assign(batch, partitions).forEach((doc, p) -> assignment.put(doc, offset + p));
            firstPartition[b + 1] = offset + partitions;
        }
        JavaPairRDD<String, WorkItem> shuffled = work.keyBy(w -> w.document().docId())
                .partitionBy(new BalancedPartitioner(assignment, firstPartition[batchCount]));

        long planned = System.nanoTime();
        LocalProgress.reset();
        // One commit per batch: what a killed run finished stays committed, and --resume skips it.
        try (ProgressDisplay progress = ProgressDisplay.start(spark, costs.size(), totalTokens, err)) {
            for (int b = 0; b < batchCount; b++) {
                List<TokenBalancer.Cost> batch = b < batches.size() ? batches.get(b) : List.of();
                JavaRDD<ResultRow> results = partitions(shuffled, firstPartition[b], firstPartition[b + 1])
                        .values()
                        .mapPartitions(new ProcessPartition(settings, metrics));
                if (b == 0) results = results.union(orphanRows);
                sc.setJobDescription(String.format("cascade: batch %d of %d, %d documents, ~%d tokens, %d partitions → %s",
                        b + 1, batchCount, batch.size(), batch.stream().mapToLong(TokenBalancer.Cost::tokens).sum(),
                        firstPartition[b + 1] - firstPartition[b], parquet));
                spark.createDataFrame(results.map(ResultSchema::toRow), ResultSchema.SCHEMA)
                        .write()
                        .mode(b == 0 && !options.resume ? SaveMode.ErrorIfExists : SaveMode.Append)
                        .partitionBy("task")
                        .parquet(parquet.toString());
                // The first batch ran the shuffle's map side; later batches read its files, not the corpus.
                if (b == 0) groups.unpersist(false);
            }
        }

        long processed = System.nanoTime();
        Dataset<Row> committed = fs.exists(parquet) ? spark.read().parquet(parquet.toString()) : null;
        int arrowFiles = 0;
        if (options.formats.contains("arrow") && committed != null) {
            sc.setJobDescription("cascade: Arrow copy of " + parquet);
            arrowFiles = ArrowOutput.write(committed, output, runId, hadoop);
        }
        sc.setJobDescription("cascade: counting the rows of " + parquet);
        Map<String, Long> table = committed == null ? Map.of() : tableCounts(committed);
        RunSummary.Timing timing = new RunSummary.Timing((planned - start) / 1_000_000, (processed - planned) / 1_000_000,
                (System.nanoTime() - processed) / 1_000_000);
        return new RunSummary(runId, options, settings, model, costs.size(), done.size(), Math.max(1, batches.size()), maxPartitions,
                documentsWithoutKey, questionsWithoutKey,
                metrics.documents.value(), metrics.tokensIn.value(), metrics.tokensOut.value(), metrics.errors.value(), metrics.modelMillis.value(),
                timing, table, arrowFiles, spark.version());
    }

    /** Partitions [from, to) of {@code rdd}, as an RDD of their own (the others are neither read nor computed). */
    private static <K, V> JavaPairRDD<K, V> partitions(JavaPairRDD<K, V> rdd, int from, int to) {
        scala.Function1<Object, Object> keep = (scala.Function1<Object, Object> & java.io.Serializable)
                index -> (Integer) index >= from && (Integer) index < to;
        return JavaPairRDD.fromRDD(PartitionPruningRDD.create(rdd.rdd(), keep), rdd.kClassTag(), rdd.vClassTag());
    }

    /** What the driver learns of one input group: its cost when it has work, and the rows it had without a key. */
    private record Tally(TokenBalancer.Cost cost, long keylessDocuments, long keylessQuestions) implements java.io.Serializable {
    }

    /** Rows without a key cannot give a row; the run says how many there were, here and in _SUMMARY.json. */
    private void warnKeyless(long rows, String what) {
        if (rows > 0) err.println("cascade-job: warning: " + rows + " " + what + " and are not processed (see _SUMMARY.json, input)");
    }

    /** The keys an earlier run committed; they are neither redone nor written again. */
    private Set<ResultKey> committedKeys(JavaSparkContext sc, Path parquet, FileSystem fs) throws IOException {
        if (!fs.exists(parquet)) return Set.of();
        sc.setJobDescription("cascade: reading the keys already in " + parquet);
        Set<ResultKey> keys = new HashSet<>();
        for (Row r : spark.read().parquet(parquet.toString()).select("doc_id", "task", "question_id").collectAsList()) {
            keys.add(new ResultKey(r.getString(0), r.getString(1), r.getString(2)));
        }
        return keys;
    }

    private static Map<String, Long> tableCounts(Dataset<Row> committed) {
        Row r = committed.agg(count("*").as("rows"),
                count(when(col("status").equalTo(ResultRow.OK), 1)).as("ok"),
                count(when(col("status").equalTo(ResultRow.ERROR), 1)).as("error"),
                count(when(col("task").equalTo(TaskSpec.SUMMARY), 1)).as("summary"),
                count(when(col("task").equalTo(TaskSpec.QA), 1)).as("qa")).first();
        Map<String, Long> m = new java.util.LinkedHashMap<>();
        m.put("rows", r.getLong(0));
        m.put("ok", r.getLong(1));
        m.put("error", r.getLong(2));
        m.put("summary", r.getLong(3));
        m.put("qa", r.getLong(4));
        return m;
    }
}
