package cascadelm.spark.ml;

import cascadelm.spark.core.JobSettings;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the two transformers share: the model path and the settings (any job setting, written
 * {@code key=value,key=value}, so cache policy and sizes, prompts and token limits are the same names as in
 * conf/cascade.properties), and the output column. Params are created in the constructor, after the uid
 * they belong to exists.
 */
abstract class CascadeParams extends Transformer {
    private final String uid;
    private final Param<String> modelPath;
    private final Param<String> settings;
    private final Param<String> outputCol;

    CascadeParams(String uid, String defaultOutput) {
        this.uid = uid;
        modelPath = new Param<>(this, "modelPath", "GGUF model file (a path every executor sees)");
        settings = new Param<>(this, "settings", "job settings as key=value,key=value (cache, cache-size, stride, "
                + "summary-prompt, answer-max-tokens, ...); unset keys keep their defaults");
        outputCol = new Param<>(this, "outputCol", "column for the generated text (null where the row failed)");
        setDefault(modelPath, JobSettings.defaults().get("model"));
        setDefault(settings, "");
        setDefault(outputCol, defaultOutput);
    }

    @Override
    public String uid() {
        return uid;
    }

    public Param<String> modelPath() {
        return modelPath;
    }

    public Param<String> settings() {
        return settings;
    }

    public Param<String> outputCol() {
        return outputCol;
    }

    public String getModelPath() {
        return $(modelPath);
    }

    public String getSettings() {
        return $(settings);
    }

    public String getOutputCol() {
        return $(outputCol);
    }

    /** The settings these params describe; invalid ones fail here, on the driver, naming the key. */
    JobSettings jobSettings() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String kv : $(settings).split(",")) {
            if (kv.isBlank()) continue;
            int eq = kv.indexOf('=');
            if (eq < 0) throw new IllegalArgumentException("settings: '" + kv + "' is not key=value");
            m.put(kv.substring(0, eq).trim(), kv.substring(eq + 1));
        }
        m.put("model", $(modelPath));
        return JobSettings.of(m);
    }

    static void requireString(StructType schema, String column) {
        if (!Arrays.asList(schema.fieldNames()).contains(column)) {
            throw new IllegalArgumentException("no column '" + column + "' (has " + String.join(", ", schema.fieldNames()) + ")");
        }
        if (!schema.apply(column).dataType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("column '" + column + "' must be a string, is " + schema.apply(column).dataType().simpleString());
        }
    }

    StructType withOutput(StructType schema) {
        if (Arrays.asList(schema.fieldNames()).contains($(outputCol))) {
            throw new IllegalArgumentException("output column '" + $(outputCol) + "' already exists");
        }
        return schema.add(new StructField($(outputCol), DataTypes.StringType, true, org.apache.spark.sql.types.Metadata.empty()));
    }

    @Override
    public Transformer copy(ParamMap extra) {
        return defaultCopy(extra);
    }
}
