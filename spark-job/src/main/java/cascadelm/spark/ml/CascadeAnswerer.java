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
import org.apache.spark.sql.types.StructType;

import java.io.Serial;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * Adds the answer to each row's question about the row's document. Consecutive rows with the same document
 * share one reading of it (the cache snapshot), so sorting or grouping the rows by document pays off.
 */
public final class CascadeAnswerer extends CascadeParams {
    @Serial
    private static final long serialVersionUID = 1L;
    private final Param<String> documentCol;
    private final Param<String> questionCol;

    public CascadeAnswerer() {
        this(Identifiable.randomUID("cascadeAnswerer"));
    }

    public CascadeAnswerer(String uid) {
        super(uid, "answer");
        documentCol = new Param<>(this, "documentCol", "column with the document text");
        questionCol = new Param<>(this, "questionCol", "column with the question");
        setDefault(documentCol, "text");
        setDefault(questionCol, "question");
    }

    public Param<String> documentCol() {
        return documentCol;
    }

    public Param<String> questionCol() {
        return questionCol;
    }

    public String getDocumentCol() {
        return $(documentCol);
    }

    public String getQuestionCol() {
        return $(questionCol);
    }

    public CascadeAnswerer setDocumentCol(String v) {
        set(documentCol, v);
        return this;
    }

    public CascadeAnswerer setQuestionCol(String v) {
        set(questionCol, v);
        return this;
    }

    public CascadeAnswerer setOutputCol(String v) {
        set(outputCol(), v);
        return this;
    }

    public CascadeAnswerer setModelPath(String v) {
        set(modelPath(), v);
        return this;
    }

    public CascadeAnswerer setSettings(String v) {
        set(settings(), v);
        return this;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        requireString(schema, $(documentCol));
        requireString(schema, $(questionCol));
        return withOutput(schema);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        JobSettings s = jobSettings();
        int doc = dataset.schema().fieldIndex($(documentCol));
        int question = dataset.schema().fieldIndex($(questionCol));
        return dataset.toDF().mapPartitions((MapPartitionsFunction<Row, Row>) rows -> answer(rows, s, doc, question),
                Encoders.row(out));
    }

    private static Iterator<Row> answer(Iterator<Row> rows, JobSettings s, int doc, int question) {
        if (!rows.hasNext()) return Collections.emptyIterator();
        DocumentProcessor processor = new DocumentProcessor(ExecutorModel.get(s), s, ProcessingListener.NONE);
        return new Iterator<>() {
            private Row pending = rows.next();
            private Iterator<Row> done = Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                return done.hasNext() || pending != null;
            }

            @Override
            public Row next() {
                if (!done.hasNext()) done = nextGroup();
                return done.next();
            }

            /** The run of rows that share the pending row's document, answered from one reading of it. */
            private Iterator<Row> nextGroup() {
                List<Row> group = new ArrayList<>();
                String text = pending.getString(doc);
                while (pending != null && Objects.equals(pending.getString(doc), text)) {
                    group.add(pending);
                    pending = rows.hasNext() ? rows.next() : null;
                }
                List<TaskSpec> tasks = new ArrayList<>(group.size());
                for (int i = 0; i < group.size(); i++) {
                    tasks.add(TaskSpec.question(Integer.toString(i), group.get(i).getString(question)));
                }
                List<ResultRow> results = processor.process(Document.of("row", text), tasks);
                List<Row> out = new ArrayList<>(group.size());
                for (int i = 0; i < group.size(); i++) {
                    ResultRow r = results.get(i);
                    out.add(CascadeSummarizer.append(group.get(i), r.ok() ? r.text() : null));
                }
                return out.iterator();
            }
        };
    }
}
