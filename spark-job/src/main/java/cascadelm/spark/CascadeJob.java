package cascadelm.spark;

import cascadelm.model.gguf.ModelFormatException;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.TaskSpec;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;

import static org.apache.spark.sql.functions.col;

/**
 * The Spark batch job: a corpus in, one summary per document and one answer per question out, as Parquet
 * and Arrow. Runs under spark-submit, or as a plain Java program with an embedded local Spark
 * ({@code bin/cascade-job}). Exit codes: 0 ok, 1 failure while running, 2 bad options or settings, 3 the
 * model (or its backend) cannot be used. Errors before any work are one line.
 */
@Command(name = "cascade-job", mixinStandardHelpOptions = true, version = "cascade-job " + Versions.CASCADE_LM,
        sortOptions = false,
        description = "Summaries and answers over a corpus with a cascading-KV-cache language model, on Spark.")
public final class CascadeJob implements Callable<Integer> {
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;
    public static final int EXIT_BAD_MODEL = 3;
    static final String SPARK_PREFIX = "spark.cascade.";

    @Mixin
    JobOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Filled in by a successful run (tests read it). */
    RunSummary summary;

    public static void main(String[] args) {
        int code = run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        // spark-submit waits for the JVM; a local SparkContext's threads would otherwise keep it alive.
        System.exit(code);
    }

    /** Runs the job and returns its exit code (tests call this instead of main). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new CascadeJob());
        cli.setOut(out);
        cli.setErr(err);
        cli.getCommandSpec().usageMessage().footer(footer());
        cli.setUsageHelpWidth(120);
        cli.setExitCodeExceptionMapper(CascadeJob::exitCode);
        // A bad option is one line naming it, like every other error before any work (not the whole usage text).
        cli.setParameterExceptionHandler((e, args1) -> {
            e.getCommandLine().getErr().println("cascade-job: " + oneLine(e) + " (see --help)");
            e.getCommandLine().getErr().flush();
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("cascade-job: " + oneLine(e));
            if (parseResult.hasMatchedOption("--verbose")) e.printStackTrace(commandLine.getErr());
            commandLine.getErr().flush();
            return exitCode(e);
        });
        return cli.execute(args);
    }

    private static String[] footer() {
        List<String> lines = new ArrayList<>();
        lines.add("");
        lines.add("Settings, with their built-in defaults. Each layer overrides the one before: conf/cascade.properties,");
        lines.add("spark.cascade.<key> in the Spark conf, --conf key=value. Prompts write line breaks as \\n.");
        lines.addAll(JobSettings.help());
        lines.add("");
        lines.add("Exit codes: 0 ok, 1 failure while running, 2 bad options or settings, 3 the model cannot be used.");
        return lines.toArray(String[]::new);
    }

    @Override
    public Integer call() throws Exception {
        checkOptions();
        // A notebook or a test may already have a session: the job joins it and leaves it running.
        SparkSession existing = SparkSession.getDefaultSession().isDefined() ? SparkSession.getDefaultSession().get() : null;
        SparkConf sparkConf = existing != null ? existing.sparkContext().getConf() : new SparkConf();
        JobSettings settings = settings(sparkConf);
        // A model shipped with spark-submit --files reaches the driver's SparkFiles folder only once the session
        // is up; any other model is checked first, so that a wrong path costs no Spark start.
        boolean shipped = existing == null && sparkConf.contains("spark.files")
                && !Files.isRegularFile(ProcessPartition.modelFile(settings.modelPath()));
        DriverCheck.Result model = shipped ? null : DriverCheck.check(settings);

        SparkSession spark = existing != null ? existing : newSession(sparkConf);
        try {
            if (model == null) model = DriverCheck.check(settings);
            prepareOutput(spark);
            summary = new JobRun(spark, options, settings, model, spec.commandLine().getErr()).run();
            summary.write(spark.sparkContext().hadoopConfiguration());
            report(spark, summary);
        } finally {
            // A joined session (a notebook) goes on running other jobs: they are not this job's.
            spark.sparkContext().setJobDescription(null);
            if (existing == null) spark.stop();
        }
        return 0;
    }

    private static SparkSession newSession(SparkConf conf) {
        if (!conf.contains("spark.master")) conf.setMaster("local[*]");
        conf.setIfMissing("spark.app.name", "cascade-job");
        return SparkSession.builder().config(conf).getOrCreate();
    }

    private void checkOptions() {
        for (String t : options.tasks) {
            if (!t.equals(TaskSpec.SUMMARY) && !t.equals(TaskSpec.QA)) {
                throw usage("--tasks: unknown task '" + t + "' (known: summary, qa)");
            }
        }
        boolean tasksGiven = spec.commandLine().getParseResult().hasMatchedOption("--tasks");
        if (tasksGiven && options.tasks.contains(TaskSpec.QA) && options.questions == null) {
            throw usage("--tasks qa needs --questions");
        }
        for (String f : options.formats) {
            if (!f.equals("parquet") && !f.equals("arrow")) throw usage("--format: unknown format '" + f + "' (known: parquet, arrow)");
        }
        if (!options.formats.contains("parquet")) {
            throw usage("--format must include parquet: it is the committed table --resume reads (arrow is a copy of it)");
        }
        if (options.partitions < 0) throw usage("--partitions must be 0 (automatic) or more, got " + options.partitions);
        if (options.batch < 0) throw usage("--batch must be 0 (automatic) or more, got " + options.batch);
        if (options.printRows < 0) throw usage("--rows must be 0 or more, got " + options.printRows);
        if (options.output.isBlank() || options.output.chars().anyMatch(Character::isISOControl)) {
            throw usage("--output must be a folder path without control characters, got '" + options.output.replace("\0", "\\0") + "'");
        }
        if (options.resume && options.overwrite) throw usage("--resume and --overwrite contradict each other");
    }

    /** Built-in defaults < settings file < spark.cascade.* < --conf. */
    JobSettings settings(SparkConf sparkConf) throws IOException {
        List<Map<String, String>> layers = new ArrayList<>();
        List<String> names = new ArrayList<>();
        java.nio.file.Path file = options.settingsFile;
        if (file == null && System.getProperty("cascadelm.job.conf") != null) file = java.nio.file.Path.of(System.getProperty("cascadelm.job.conf"));
        if (file == null && Files.isRegularFile(java.nio.file.Path.of("conf/cascade.properties"))) file = java.nio.file.Path.of("conf/cascade.properties");
        if (file != null) {
            if (!Files.isRegularFile(file)) throw usage("--settings: no such file: " + file);
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (IllegalArgumentException e) {
                throw usage("cannot read settings file " + file + ": " + e.getMessage());
            }
            Map<String, String> m = new LinkedHashMap<>();
            p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
            layers.add(m);
            names.add(file.toString());
        }
        Map<String, String> fromSpark = new LinkedHashMap<>();
        for (scala.Tuple2<String, String> kv : sparkConf.getAllWithPrefix(SPARK_PREFIX)) fromSpark.put(kv._1(), kv._2());
        layers.add(fromSpark);
        names.add("the Spark conf (" + SPARK_PREFIX + "*)");
        layers.add(options.conf);
        names.add("--conf");
        try {
            return JobSettings.resolve(layers, names);
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    /**
     * Checks --output before any work, and clears it for --overwrite. Only a folder that is new, empty, or
     * holds this job's output (parquet/ or _SUMMARY.json) is written to or deleted: a mistyped --output never
     * costs anybody's files.
     */
    private void prepareOutput(SparkSession spark) throws IOException {
        Path output = new Path(options.output);
        FileSystem fs = output.getFileSystem(spark.sparkContext().hadoopConfiguration());
        if (fs.exists(output)) {
            if (fs.getFileStatus(output).isFile()) throw usage("--output " + options.output + " is a file; name a folder");
            boolean ours = fs.exists(new Path(output, JobRun.PARQUET)) || fs.exists(new Path(output, RunSummary.FILE));
            boolean empty = fs.listStatus(output).length == 0;
            if (!ours && !empty) {
                throw usage("--output " + options.output + " holds files that are not cascade-job output (no parquet/ or "
                        + RunSummary.FILE + "); name a new or empty folder" + (options.overwrite ? " (nothing was deleted)" : ""));
            }
            if (options.overwrite) {
                fs.delete(output, true);
            } else if (ours && !options.resume) {
                throw usage("--output " + options.output + " already holds results; pass --resume to complete them or --overwrite to start over");
            }
        }
        // A killed run leaves its task outputs under _temporary, never committed. Left there, the next job
        // commit (FileOutputCommitter merges every committed task folder it finds) would publish them
        // beside the rows --resume redoes: duplicates. One job writes an output at a time, so they go.
        fs.delete(new Path(new Path(output, JobRun.PARQUET), "_temporary"), true);
    }

    private void report(SparkSession spark, RunSummary s) {
        PrintWriter out = spec.commandLine().getOut();
        if (options.printRows > 0 && s.table().getOrDefault("rows", 0L) > 0) {
            spark.sparkContext().setJobDescription("cascade: the first result rows, to print");
            Dataset<Row> rows = spark.read().parquet(new Path(options.output, JobRun.PARQUET).toString())
                    .select(col("doc_id"), col("task"), col("question_id"), col("status"), col("tokens_in"),
                            col("tokens_out"), col("text"), col("error"))
                    .orderBy(col("doc_id"), col("task").desc(), col("question_id"));
            out.print(RowTable.format(rows.limit(options.printRows).collectAsList(), rows.columns(), 48));
        }
        out.printf("cascade-job: %d documents this run (%d keys were already done), %d rows in the table (%d ok, %d error)%n",
                s.documentsDone(), s.keysSkipped(), s.table().getOrDefault("rows", 0L), s.table().getOrDefault("ok", 0L),
                s.table().getOrDefault("error", 0L));
        out.printf("cascade-job: Parquet %s%s, summary %s%n", new Path(options.output, JobRun.PARQUET),
                s.arrowFiles() > 0 ? ", Arrow " + new Path(options.output, ArrowOutput.FOLDER) + " (" + s.arrowFiles() + " files)" : "",
                new Path(options.output, RunSummary.FILE));
        out.flush();
    }

    private static UsageException usage(String message) {
        return new UsageException(message);
    }


    static int exitCode(Throwable e) {
        if (e instanceof ModelFormatException || e instanceof ExecutorModel.ModelUnavailableException) return EXIT_BAD_MODEL;
        if (e instanceof CommandLine.ParameterException || e instanceof UsageException
                || e instanceof cascadelm.spark.io.CorpusReader.InputException) return EXIT_USAGE;
        return EXIT_FAILURE;
    }

    static String oneLine(Throwable e) {
        if (e instanceof ModelFormatException) return "bad model file: " + e.getMessage();
        String m = e.getMessage() == null ? e.toString() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }
}
