package cascadelm.spark.ml;

import cascadelm.spark.core.Document;
import cascadelm.spark.core.DocumentProcessor;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.ProcessingListener;
import cascadelm.spark.core.ResultRow;
import cascadelm.spark.core.TaskSpec;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.StructType;

import java.io.Serial;
import java.util.Iterator;
import java.util.List;

/**
 * Adds a summary of each row's text, for notebooks: {@code new CascadeSummarizer().setInputCol("text")
 * .transform(df)}. The input is left as it is; a row whose text cannot be summarised gets null.
 */
public final class CascadeSummarizer extends CascadeParams {
    @Serial
    private static final long serialVersionUID = 1L;
    private final Param<String> inputCol;

    public CascadeSummarizer() {
        this(Identifiable.randomUID("cascadeSummarizer"));
    }

    public CascadeSummarizer(String uid) {
        super(uid, "summary");
        inputCol = new Param<>(this, "inputCol", "column with the document text");
        setDefault(inputCol, "text");
    }

    public Param<String> inputCol() {
        return inputCol;
    }

    public String getInputCol() {
        return $(inputCol);
    }

    public CascadeSummarizer setInputCol(String v) {
        set(inputCol, v);
        return this;
    }

    public CascadeSummarizer setOutputCol(String v) {
        set(outputCol(), v);
        return this;
    }

    public CascadeSummarizer setModelPath(String v) {
        set(modelPath(), v);
        return this;
    }

    public CascadeSummarizer setSettings(String v) {
        set(settings(), v);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        requireString(schema, $(inputCol));
        return withOutput(schema);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        JobSettings s = jobSettings();
        int column = dataset.schema().fieldIndex($(inputCol));
        return dataset.toDF().mapPartitions((MapPartitionsFunction<Row, Row>) rows -> summarize(rows, s, column),
                Encoders.row(out));
    }

    private static Iterator<Row> summarize(Iterator<Row> rows, JobSettings s, int column) {
        if (!rows.hasNext()) return rows;
        DocumentProcessor processor = new DocumentProcessor(ExecutorModel.get(s), s, ProcessingListener.NONE);
        List<TaskSpec> tasks = List.of(TaskSpec.summary());
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public Row next() {
                Row r = rows.next();
                ResultRow result = processor.process(Document.of("row", r.getString(column)), tasks).getFirst();
                return append(r, result.ok() ? result.text() : null);
            }
        };
    }

    static Row append(Row r, Object value) {
        Object[] values = new Object[r.length() + 1];
        for (int i = 0; i < r.length(); i++) values[i] = r.get(i);
        values[r.length()] = value;
        return RowFactory.create(values);
    }
}
