package cascadelm.spark;

import cascadelm.spark.core.CommitBatches;
import cascadelm.spark.core.Document;
import cascadelm.spark.core.JobSettings;
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
import scala.Tuple2;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.struct;
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

        Set<ResultKey> done = options.resume ? committedKeys(parquet, fs) : Set.of();
        Broadcast<Set<ResultKey>> doneKeys = sc.broadcast(done);
        boolean summaries = options.tasks.contains(TaskSpec.SUMMARY);
        boolean questions = options.tasks.contains(TaskSpec.QA) && options.questions != null;

        sc.setJobDescription("cascade: reading the corpus");
        Dataset<Row> corpus = CorpusReader.documents(spark, options.corpus);
        long documentsWithoutKey = CorpusReader.isTable(spark, options.corpus) ? InputKeys.documentsWithoutKey(corpus) : 0;
        Dataset<Row> docs = InputKeys.uniqueDocuments(corpus);
        Dataset<Row> grouped = null;
        Dataset<Row> orphans = null;
        long questionsWithoutKey = 0;
        if (questions) {
            Dataset<Row> all = CorpusReader.questions(spark, options.questions);
            questionsWithoutKey = InputKeys.questionsWithoutKey(all);
            Dataset<Row> qs = InputKeys.uniqueQuestions(all);
            grouped = qs.groupBy("doc_id").agg(collect_list(struct(col("question_id"), col("question"), col("problem"))).as("questions"));
            orphans = qs.join(docs.select("doc_id"), new String[]{"doc_id"}, "left_anti");
        }
        warnKeyless(documentsWithoutKey, "corpus rows have no doc_id (or are not readable: JSON or UTF-8 broken)");
        warnKeyless(questionsWithoutKey, "question rows have no doc_id or no question_id (or are not readable)");
        Dataset<Row> joined = grouped == null ? docs : docs.join(grouped, new String[]{"doc_id"}, "left_outer");

        JavaRDD<WorkItem> work = joined.javaRDD()
                .map(r -> workItem(r, summaries, doneKeys.value()))
                .filter(w -> !w.tasks().isEmpty())
                .persist(StorageLevel.MEMORY_AND_DISK_SER());
        JobSettings s = settings;   // a local, so that the closure does not capture this JobRun
        List<TokenBalancer.Cost> costs = work.map(w -> new TokenBalancer.Cost(w.document().docId(), w.estimatedTokens(s))).collect();
        long totalTokens = costs.stream().mapToLong(TokenBalancer.Cost::tokens).sum();
        List<List<TokenBalancer.Cost>> batches = CommitBatches.split(costs, options.batch, sc.defaultParallelism());

        JobMetrics metrics = new JobMetrics(spark.sparkContext());
        JavaRDD<ResultRow> orphanRows = null;
        if (orphans != null) {
            String backend = model.backend(), modelName = model.modelName(), cache = model.cacheDescription();
            orphanRows = orphans.javaRDD()
                    .map(r -> ResultRow.error(new ResultKey(r.getAs("doc_id"), TaskSpec.QA, r.getAs("question_id")),
                            backend, modelName, cache, "no document with this doc_id in the corpus"))
                    .filter(r -> !doneKeys.value().contains(r.key()));
        }

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

        LocalProgress.reset();
        // One commit per batch: what a killed run finished stays committed, and --resume skips it.
        try (ProgressDisplay progress = ProgressDisplay.start(spark, costs.size(), totalTokens)) {
            for (int b = 0; b < batchCount; b++) {
                List<TokenBalancer.Cost> batch = b < batches.size() ? batches.get(b) : List.of();
                JavaRDD<ResultRow> results = partitions(shuffled, firstPartition[b], firstPartition[b + 1])
                        .values()
                        .mapPartitions(new ProcessPartition(settings, metrics));
                if (b == 0 && orphanRows != null) results = results.union(orphanRows);
                sc.setJobDescription(String.format("cascade: batch %d of %d, %d documents, ~%d tokens, %d partitions → %s",
                        b + 1, batchCount, batch.size(), batch.stream().mapToLong(TokenBalancer.Cost::tokens).sum(),
                        firstPartition[b + 1] - firstPartition[b], parquet));
                spark.createDataFrame(results.map(ResultSchema::toRow), ResultSchema.SCHEMA)
                        .write()
                        .mode(b == 0 && !options.resume ? SaveMode.ErrorIfExists : SaveMode.Append)
                        .partitionBy("task")
                        .parquet(parquet.toString());
                // The first batch ran the shuffle's map side; later batches read its files, not the corpus.
                if (b == 0) work.unpersist(false);
            }
        }

        Dataset<Row> committed = fs.exists(parquet) ? spark.read().parquet(parquet.toString()) : null;
        int arrowFiles = 0;
        if (options.formats.contains("arrow") && committed != null) {
            sc.setJobDescription("cascade: Arrow copy of " + parquet);
            arrowFiles = ArrowOutput.write(committed, output, runId, hadoop);
        }
        Map<String, Long> table = committed == null ? Map.of() : tableCounts(committed);
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;
        return new RunSummary(runId, options, settings, model, costs.size(), done.size(), Math.max(1, batches.size()), maxPartitions,
                documentsWithoutKey, questionsWithoutKey,
                metrics.documents.value(), metrics.tokensIn.value(), metrics.tokensOut.value(), metrics.errors.value(),
                elapsedMs, table, arrowFiles, spark.version());
    }

    private static WorkItem workItem(Row r, boolean summaries, Set<ResultKey> done) {
        String docId = r.getAs("doc_id");
        Document doc = new Document(docId, r.getAs("title"), r.getAs("text"), r.getAs("problem"));
        List<TaskSpec> tasks = new ArrayList<>();
        if (summaries) tasks.add(TaskSpec.summary());
        if (hasField(r, "questions") && !r.isNullAt(r.fieldIndex("questions"))) {
            List<Row> qs = r.getList(r.fieldIndex("questions"));
            // Sorted so that a document's rows come out in the same order every run.
            List<Row> sorted = new ArrayList<>(qs);
            sorted.sort(java.util.Comparator.comparing(q -> q.<String>getAs("question_id")));
            for (Row q : sorted) {
                String problem = q.getAs("problem");
                tasks.add(problem != null ? TaskSpec.unanswerable(q.getAs("question_id"), problem)
                        : TaskSpec.question(q.getAs("question_id"), q.getAs("question")));
            }
        }
        tasks.removeIf(t -> done.contains(t.key(docId)));
        return new WorkItem(doc, tasks);
    }

    /** Partitions [from, to) of {@code rdd}, as an RDD of their own (the others are neither read nor computed). */
    private static <K, V> JavaPairRDD<K, V> partitions(JavaPairRDD<K, V> rdd, int from, int to) {
        scala.Function1<Object, Object> keep = (scala.Function1<Object, Object> & java.io.Serializable)
                index -> (Integer) index >= from && (Integer) index < to;
        return JavaPairRDD.fromRDD(PartitionPruningRDD.create(rdd.rdd(), keep), rdd.kClassTag(), rdd.vClassTag());
    }

    /** Rows without a key cannot give a row; the run says how many there were, here and in _SUMMARY.json. */
    private void warnKeyless(long rows, String what) {
        if (rows > 0) err.println("cascade-job: warning: " + rows + " " + what + " and are not processed (see _SUMMARY.json, input)");
    }

    private static boolean hasField(Row r, String name) {
        return List.of(r.schema().fieldNames()).contains(name);
    }

    /** The keys an earlier run committed; they are neither redone nor written again. */
    private Set<ResultKey> committedKeys(Path parquet, FileSystem fs) throws IOException {
        if (!fs.exists(parquet)) return Set.of();
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
