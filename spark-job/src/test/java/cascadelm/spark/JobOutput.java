package cascadelm.spark;

import cascadelm.spark.core.ResultRow;
import cascadelm.spark.io.ArrowResults;
import cascadelm.spark.io.ResultSchema;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Running the job in-process and reading what it wrote. */
final class JobOutput {
    record Run(int exitCode, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = CascadeJob.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static List<ResultRow> parquet(SparkSession spark, Path output) {
        List<ResultRow> rows = new ArrayList<>();
        for (Row r : spark.read().parquet(output.resolve("parquet").toString()).collectAsList()) rows.add(ResultSchema.fromRow(r));
        return sorted(rows);
    }

    static List<ResultRow> arrow(Path output) throws IOException {
        List<ResultRow> rows = new ArrayList<>();
        try (Stream<Path> files = Files.list(output.resolve("arrow"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".arrow")).toList()) rows.addAll(ArrowResults.read(f));
        }
        return sorted(rows);
    }

    static String key(ResultRow r) {
        return r.docId() + "|" + r.task() + "|" + (r.questionId() == null ? "" : r.questionId());
    }

    static List<ResultRow> sorted(List<ResultRow> rows) {
        rows.sort(Comparator.comparing(JobOutput::key));
        return rows;
    }

    private JobOutput() {
    }
}
