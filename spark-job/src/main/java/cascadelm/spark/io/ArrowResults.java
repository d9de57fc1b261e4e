package cascadelm.spark.io;

import cascadelm.spark.core.ResultRow;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The result rows as an Arrow IPC file (the random-access "file" format, readable by pyarrow's
 * {@code pa.ipc.open_file} and by pandas). Same columns and types as the Parquet output.
 */
public final class ArrowResults {
    /** Rows per record batch: big enough to amortise the batch overhead, small enough to stream a partition. */
    static final int BATCH_ROWS = 1024;

    private ArrowResults() {
    }

    public static final Schema SCHEMA = new Schema(List.of(
            utf8("doc_id", false), utf8("task", false), utf8("question_id", true), utf8("text", true),
            int64("tokens_in"), int64("tokens_out"), float64("prefill_ms"), float64("decode_ms"),
            utf8("backend", true), utf8("model", true), utf8("cache", true), utf8("status", false), utf8("error", true)));

    /** Writes all rows to {@code out} (not closed here) in batches; returns the number of rows. */
    public static long write(Iterator<ResultRow> rows, OutputStream out) throws IOException {
        long written = 0;
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, allocator);
             ArrowFileWriter writer = new ArrowFileWriter(root, null, Channels.newChannel(out))) {
            writer.start();
            List<ResultRow> batch = new ArrayList<>(BATCH_ROWS);
            while (rows.hasNext()) {
                batch.add(rows.next());
                if (batch.size() == BATCH_ROWS || !rows.hasNext()) {
                    fill(root, batch);
                    writer.writeBatch();
                    written += batch.size();
                    batch.clear();
                }
            }
            writer.end();
        }
        return written;
    }

    /** Reads every row of one Arrow IPC file. */
    public static List<ResultRow> read(Path file) throws IOException {
        List<ResultRow> rows = new ArrayList<>();
        try (BufferAllocator allocator = new RootAllocator();
             FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
             ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            if (!root.getSchema().equals(SCHEMA)) {
                throw new IOException(file + ": not a result file (schema " + root.getSchema() + ")");
            }
            while (reader.loadNextBatch()) {
                for (int i = 0; i < root.getRowCount(); i++) rows.add(row(root, i));
            }
        }
        return rows;
    }

    private static void fill(VectorSchemaRoot root, List<ResultRow> batch) {
        root.allocateNew();
        for (int i = 0; i < batch.size(); i++) {
            ResultRow r = batch.get(i);
            text(root, "doc_id", i, r.docId());
            text(root, "task", i, r.task());
            text(root, "question_id", i, r.questionId());
            text(root, "text", i, r.text());
            ((BigIntVector) root.getVector("tokens_in")).setSafe(i, r.tokensIn());
            ((BigIntVector) root.getVector("tokens_out")).setSafe(i, r.tokensOut());
            ((Float8Vector) root.getVector("prefill_ms")).setSafe(i, r.prefillMs());
            ((Float8Vector) root.getVector("decode_ms")).setSafe(i, r.decodeMs());
            text(root, "backend", i, r.backend());
            text(root, "model", i, r.model());
            text(root, "cache", i, r.cache());
            text(root, "status", i, r.status());
            text(root, "error", i, r.error());
        }
        for (FieldVector v : root.getFieldVectors()) v.setValueCount(batch.size());
        root.setRowCount(batch.size());
    }

    private static ResultRow row(VectorSchemaRoot root, int i) {
        return new ResultRow(text(root, "doc_id", i), text(root, "task", i), text(root, "question_id", i),
                text(root, "text", i),
                ((BigIntVector) root.getVector("tokens_in")).get(i), ((BigIntVector) root.getVector("tokens_out")).get(i),
                ((Float8Vector) root.getVector("prefill_ms")).get(i), ((Float8Vector) root.getVector("decode_ms")).get(i),
                text(root, "backend", i), text(root, "model", i), text(root, "cache", i),
                text(root, "status", i), text(root, "error", i));
    }

    private static void text(VectorSchemaRoot root, String column, int i, String value) {
        VarCharVector v = (VarCharVector) root.getVector(column);
        if (value == null) v.setNull(i);
        else v.setSafe(i, value.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(VectorSchemaRoot root, String column, int i) {
        VarCharVector v = (VarCharVector) root.getVector(column);
        return v.isNull(i) ? null : new String(v.get(i), StandardCharsets.UTF_8);
    }

    private static Field utf8(String name, boolean nullable) {
        return new Field(name, new FieldType(nullable, ArrowType.Utf8.INSTANCE, null), null);
    }

    private static Field int64(String name) {
        return new Field(name, new FieldType(false, new ArrowType.Int(64, true), null), null);
    }

    private static Field float64(String name) {
        return new Field(name, new FieldType(false, new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE), null), null);
    }
}
