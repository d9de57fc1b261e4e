package cascadelm.spark;

import cascadelm.spark.io.ArrowResults;
import cascadelm.spark.io.ResultSchema;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.ForeachPartitionFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.util.SerializableConfiguration;

import java.io.IOException;
import java.io.Serial;
import java.util.Iterator;
import java.util.Locale;

/**
 * The Arrow copy of the results: DIR/arrow/part-NNNNN.arrow, one file per partition of the committed
 * Parquet table, so the two always hold the same rows (after a --resume too). Each file is written under a
 * temporary name and renamed; the whole set goes to a staging folder that replaces DIR/arrow only once
 * every file is there, so readers never see a half-written set.
 */
final class ArrowOutput {
    static final String FOLDER = "arrow";
    private static final String STAGING = "_arrow-staging-";

    private ArrowOutput() {
    }

    /** Writes the rows of the (committed) Parquet table; returns the number of files. */
    static int write(Dataset<Row> committed, Path output, String runId, Configuration hadoop) throws IOException {
        FileSystem fs = output.getFileSystem(hadoop);
        removeStaleStaging(fs, output);
        Path staging = new Path(output, STAGING + runId);
        fs.mkdirs(staging);
        SerializableConfiguration conf = new SerializableConfiguration(hadoop);
        Dataset<Row> rows = committed.select(ResultSchema.COLUMNS.stream().map(org.apache.spark.sql.functions::col)
                .toArray(org.apache.spark.sql.Column[]::new));
        rows.foreachPartition(new WritePartition(staging.toString(), conf));
        Path target = new Path(output, FOLDER);
        Path old = new Path(output, "_arrow-old-" + runId);
        if (fs.exists(target) && !fs.rename(target, old)) throw new IOException("cannot move " + target + " aside");
        if (!fs.rename(staging, target)) throw new IOException("cannot rename " + staging + " to " + target);
        fs.delete(old, true);
        return fs.listStatus(target, p -> p.getName().endsWith(".arrow")).length;
    }

    /** A killed run leaves its staging folder behind; it was never visible as output, so it just goes. */
    static void removeStaleStaging(FileSystem fs, Path output) throws IOException {
        if (!fs.exists(output)) return;
        for (var s : fs.listStatus(output, p -> p.getName().startsWith(STAGING) || p.getName().startsWith("_arrow-old-"))) {
            fs.delete(s.getPath(), true);
        }
    }

    private static final class WritePartition implements ForeachPartitionFunction<Row> {
        @Serial
        private static final long serialVersionUID = 1L;
        private final String staging;
        private final SerializableConfiguration conf;

        WritePartition(String staging, SerializableConfiguration conf) {
            this.staging = staging;
            this.conf = conf;
        }

        @Override
        public void call(Iterator<Row> rows) throws IOException {
            TaskContext task = TaskContext.get();
            String name = String.format(Locale.ROOT, "part-%05d.arrow", task.partitionId());
            Path dir = new Path(staging);
            FileSystem fs = dir.getFileSystem(conf.value());
            fs.setWriteChecksum(false);
            // Attempt-specific temporary name: a speculative or retried attempt never writes over another's file.
            Path tmp = new Path(dir, "." + name + "." + task.attemptNumber() + ".tmp");
            try (FSDataOutputStream out = fs.create(tmp, true)) {
                ArrowResults.write(new MappingIterator(rows), out);
            }
            Path done = new Path(dir, name);
            fs.delete(done, false);
            if (!fs.rename(tmp, done)) throw new IOException("cannot rename " + tmp + " to " + done);
        }
    }

    private record MappingIterator(Iterator<Row> rows) implements Iterator<cascadelm.spark.core.ResultRow> {
        @Override
        public boolean hasNext() {
            return rows.hasNext();
        }

        @Override
        public cascadelm.spark.core.ResultRow next() {
            return ResultSchema.fromRow(rows.next());
        }
    }
}
