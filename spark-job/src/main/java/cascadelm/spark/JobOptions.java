package cascadelm.spark;

import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The job's command line (settings are separate: --conf key=value, see {@link cascadelm.spark.core.JobSettings}). */
final class JobOptions {
    @Option(names = "--corpus", required = true, paramLabel = "PATH",
            description = "Folder of .txt/.md files (doc_id = relative path), or a Parquet / JSON Lines table with doc_id, text and optional title.")
    String corpus;

    @Option(names = "--questions", paramLabel = "PATH",
            description = "Parquet / JSON Lines / CSV table with doc_id, question_id, question.")
    String questions;

    @Option(names = "--tasks", split = ",", paramLabel = "TASK", defaultValue = "summary,qa",
            description = "Tasks to run: summary, qa (qa needs --questions) (default: ${DEFAULT-VALUE}).")
    List<String> tasks = new ArrayList<>();

    @Option(names = "--output", paramLabel = "DIR", defaultValue = "out",
            description = "Output folder: parquet/ (partitioned by task), arrow/, _SUMMARY.json (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--format", split = ",", paramLabel = "FORMAT", defaultValue = "parquet,arrow",
            description = "Output formats: parquet (always: it is what --resume reads) and arrow (default: ${DEFAULT-VALUE}).")
    List<String> formats = new ArrayList<>();

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "0",
            description = "Number of partitions; 0 = chosen from the token counts and the cores (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "0",
            description = "Documents per commit: each batch is committed as it finishes, so a killed run keeps the batches before "
                    + "and --resume does the rest; 0 = automatic, about 1M estimated tokens and at most 64 documents per core (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--resume", description = "Keep what an earlier run wrote to --output and do only the missing (doc_id, task, question_id) keys.")
    boolean resume;

    @Option(names = "--overwrite", description = "Delete --output first.")
    boolean overwrite;

    @Option(names = "--conf", paramLabel = "KEY=VALUE", description = "A setting (repeatable); wins over spark.cascade.* and the settings file.")
    Map<String, String> conf = new LinkedHashMap<>();

    @Option(names = "--settings", paramLabel = "FILE",
            description = "Settings file (default: conf/cascade.properties when it exists, or -Dcascadelm.job.conf).")
    Path settingsFile;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "5",
            description = "Print this many result rows at the end (default: ${DEFAULT-VALUE}).")
    int printRows;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;
}
