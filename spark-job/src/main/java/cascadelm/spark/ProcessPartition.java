package cascadelm.spark;

import cascadelm.spark.core.DocumentProcessor;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.ResultRow;
import cascadelm.spark.core.WorkItem;
import org.apache.spark.SparkFiles;
import org.apache.spark.api.java.function.FlatMapFunction;

import java.io.Serial;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Spark's side of the executor work: finds the model on this node, and streams the partition's documents
 * through {@link DocumentProcessor} one at a time (a partition's results are never all held at once).
 */
final class ProcessPartition implements FlatMapFunction<Iterator<WorkItem>, ResultRow> {
    @Serial
    private static final long serialVersionUID = 1L;

    private final JobSettings settings;
    private final JobMetrics metrics;

    ProcessPartition(JobSettings settings, JobMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
    }

    @Override
    public Iterator<ResultRow> call(Iterator<WorkItem> items) {
        if (!items.hasNext()) return Collections.emptyIterator();
        DocumentProcessor processor = new DocumentProcessor(ExecutorModel.get(modelFile(settings.modelPath()), settings),
                settings, metrics);
        return new Iterator<>() {
            private Iterator<ResultRow> current = Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!current.hasNext() && items.hasNext()) {
                    WorkItem w = items.next();
                    current = processor.process(w.document(), w.tasks()).iterator();
                }
                return current.hasNext();
            }

            @Override
            public ResultRow next() {
                if (!hasNext()) throw new NoSuchElementException();
                return current.next();
            }
        };
    }

    /**
     * The path as given when this node sees it; else, for a relative path, under the installation
     * ({@code -Dcascadelm.home}, set by bin/cascade-job, so conf/'s sample-data/... works from any folder);
     * else the copy spark-submit --files shipped here.
     */
    static Path modelFile(String path) {
        Path p = Path.of(path);
        if (Files.isRegularFile(p)) return p;
        String home = System.getProperty("cascadelm.home");
        if (home != null && !p.isAbsolute() && Files.isRegularFile(Path.of(home).resolve(p))) return Path.of(home).resolve(p);
        try {
            Path shipped = Path.of(SparkFiles.get(p.getFileName().toString()));
            if (Files.isRegularFile(shipped)) return shipped;
        } catch (RuntimeException e) {
            // No SparkContext files on this node: report the path as given.
        }
        return p;
    }
}
