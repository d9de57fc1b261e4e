package cascadelm.spark.io;

import cascadelm.spark.core.ResultRow;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.List;

/** The result schema as Spark sees it, and the conversions between {@link ResultRow} and Spark rows. */
public final class ResultSchema {
    private ResultSchema() {
    }

    public static final List<String> COLUMNS = List.of("doc_id", "task", "question_id", "text", "tokens_in",
            "tokens_out", "prefill_ms", "decode_ms", "backend", "model", "cache", "status", "error");

    public static final StructType SCHEMA = new StructType(new StructField[]{
            DataTypes.createStructField("doc_id", DataTypes.StringType, false),
            DataTypes.createStructField("task", DataTypes.StringType, false),
            DataTypes.createStructField("question_id", DataTypes.StringType, true),
            DataTypes.createStructField("text", DataTypes.StringType, true),
            DataTypes.createStructField("tokens_in", DataTypes.LongType, false),
            DataTypes.createStructField("tokens_out", DataTypes.LongType, false),
            DataTypes.createStructField("prefill_ms", DataTypes.DoubleType, false),
            DataTypes.createStructField("decode_ms", DataTypes.DoubleType, false),
            DataTypes.createStructField("backend", DataTypes.StringType, true),
            DataTypes.createStructField("model", DataTypes.StringType, true),
            DataTypes.createStructField("cache", DataTypes.StringType, true),
            DataTypes.createStructField("status", DataTypes.StringType, false),
            DataTypes.createStructField("error", DataTypes.StringType, true)});

    public static Row toRow(ResultRow r) {
        return RowFactory.create(r.docId(), r.task(), r.questionId(), r.text(), r.tokensIn(), r.tokensOut(),
                r.prefillMs(), r.decodeMs(), r.backend(), r.model(), r.cache(), r.status(), r.error());
    }

    /** From a row with the result columns in any order (Parquet read back puts the partition column last). */
    public static ResultRow fromRow(Row row) {
        return new ResultRow(row.getAs("doc_id"), row.getAs("task"), row.getAs("question_id"), row.getAs("text"),
                ((Number) row.getAs("tokens_in")).longValue(), ((Number) row.getAs("tokens_out")).longValue(),
                ((Number) row.getAs("prefill_ms")).doubleValue(), ((Number) row.getAs("decode_ms")).doubleValue(),
                row.getAs("backend"), row.getAs("model"), row.getAs("cache"), row.getAs("status"), row.getAs("error"));
    }
}
