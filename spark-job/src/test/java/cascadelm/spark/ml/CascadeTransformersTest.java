package cascadelm.spark.ml;

import cascadelm.spark.TestCorpus;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CascadeTransformersTest {
    static SparkSession spark;
    static final String SETTINGS = "summary-max-tokens=6,answer-max-tokens=4,cache-size=256,stride=64";
    static final String LAMP = "The keeper lit the lamp at dusk. ".repeat(20);
    static final String TREES = "Mara counted forty apple trees. ".repeat(15);

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("transformers").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void summarizerAddsASummaryColumnAndLeavesTheInputAlone() {
        StructType schema = new StructType().add("id", "int").add("body", "string");
        Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create(1, LAMP), RowFactory.create(2, "   "),
                RowFactory.create(3, TREES)), schema);
        CascadeSummarizer s = new CascadeSummarizer().setInputCol("body").setOutputCol("gist")
                .setModelPath(TestCorpus.MODEL.toString()).setSettings(SETTINGS);
        List<Row> rows = s.transform(df).orderBy("id").collectAsList();
        assertEquals(List.of("id", "body"), List.of(df.columns()), "transform never changes its input");
        assertEquals(List.of("id", "body", "gist"), List.of(s.transform(df).columns()));
        assertNotNull(rows.get(0).getAs("gist"));
        assertNull(rows.get(1).getAs("gist"), "an empty text gets null, and the row stays");
        assertNotNull(rows.get(2).getAs("gist"));
        assertEquals(LAMP, rows.get(0).getAs("body"));
    }

    @Test
    void answererAnswersEachRowsQuestionAboutItsDocument() {
        StructType schema = new StructType().add("text", "string").add("question", "string");
        Dataset<Row> df = spark.createDataFrame(List.of(RowFactory.create(LAMP, "Who lit the lamp?"),
                RowFactory.create(LAMP, "When?"), RowFactory.create(TREES, "How many trees?")), schema).coalesce(1);
        CascadeAnswerer a = new CascadeAnswerer().setModelPath(TestCorpus.MODEL.toString()).setSettings(SETTINGS);
        List<Row> rows = a.transform(df).collectAsList();
        assertEquals(3, rows.size());
        rows.forEach(r -> assertNotNull(r.getAs("answer")));
        // The same question about the same document gets the same answer alone as within a group.
        Row alone = a.transform(df.limit(1)).first();
        assertEquals(alone.<String>getAs("answer"), rows.get(0).getAs("answer"));
    }

    @Test
    void paramsHaveDefaultsCopyAndFailOnBadInput() {
        CascadeSummarizer s = new CascadeSummarizer();
        assertEquals("text", s.getInputCol());
        assertEquals("summary", s.getOutputCol());
        assertTrue(s.getModelPath().endsWith(".gguf"));
        assertTrue(s.params().length >= 4);
        CascadeSummarizer copy = (CascadeSummarizer) s.copy(new ParamMap().put(s.outputCol().w("abstract")));
        assertEquals("abstract", copy.getOutputCol());
        assertEquals("summary", s.getOutputCol());
        assertEquals(s.uid(), copy.uid());

        StructType schema = new StructType().add("text", "int");
        assertThrows(IllegalArgumentException.class, () -> s.transformSchema(schema));
        CascadeAnswerer a = new CascadeAnswerer().setSettings("cache-size=0");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> a.transform(
                spark.createDataFrame(List.<Row>of(), new StructType().add("text", "string").add("question", "string"))));
        assertTrue(bad.getMessage().contains("cache-size"), bad.getMessage());
        new Pipeline().setStages(new PipelineStage[]{s, a});   // usable as pipeline stages
    }
}
