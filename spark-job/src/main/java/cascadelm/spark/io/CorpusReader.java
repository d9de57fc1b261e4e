package cascadelm.spark.io;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;

/**
 * Reads the corpus and the questions into DataFrames with fixed columns, whatever the input format:
 * documents as (doc_id, title, text, problem), questions as (doc_id, question_id, question).
 */
public final class CorpusReader {
    public static final StructType DOCUMENTS = new StructType()
            .add("doc_id", DataTypes.StringType, false)
            .add("title", DataTypes.StringType, true)
            .add("text", DataTypes.StringType, true)
            .add("problem", DataTypes.StringType, true);

    private CorpusReader() {
    }

    /** The formats an input path can have. */
    enum Format { TEXT_FOLDER, TEXT_FILE, PARQUET, JSON, CSV }

    /**
     * A folder of .txt/.md files (doc_id = path relative to the folder, searched recursively), one such file,
     * or a Parquet / JSON Lines table with doc_id and text (title optional).
     */
    public static Dataset<Row> documents(SparkSession spark, String path) {
        Format format = detect(spark, path, true);
        return switch (format) {
            case TEXT_FOLDER, TEXT_FILE -> textFiles(spark, path, format);
            case PARQUET, JSON -> {
                Dataset<Row> t = table(spark, path, format);
                require(t, path, "doc_id", "text");
                Column title = Arrays.asList(t.columns()).contains("title") ? col("title").cast("string") : lit(null).cast("string");
                yield t.select(col("doc_id").cast("string").as("doc_id"), title.as("title"),
                                col("text").cast("string").as("text"), lit(null).cast("string").as("problem"))
                        .where(col("doc_id").isNotNull());
            }
            case CSV -> throw new InputException("--corpus " + path + ": CSV is for questions; give a folder of .txt/.md files, Parquet or JSON Lines");
        };
    }

    /** A Parquet, JSON Lines or CSV (with a header line) table with doc_id, question_id and question. */
    public static Dataset<Row> questions(SparkSession spark, String path) {
        Format format = detect(spark, path, false);
        if (format == Format.TEXT_FILE || format == Format.TEXT_FOLDER) {
            throw new InputException("--questions " + path + ": expected Parquet, JSON Lines or CSV");
        }
        Dataset<Row> t = table(spark, path, format);
        require(t, path, "doc_id", "question_id", "question");
        return t.select(col("doc_id").cast("string").as("doc_id"), col("question_id").cast("string").as("question_id"),
                        col("question").cast("string").as("question"))
                .where(col("doc_id").isNotNull().and(col("question_id").isNotNull()));
    }

    private static Dataset<Row> table(SparkSession spark, String path, Format format) {
        return switch (format) {
            case PARQUET -> spark.read().parquet(path);
            case JSON -> spark.read().json(path);
            case CSV -> spark.read().option("header", "true").option("multiLine", "true").option("escape", "\"").csv(path);
            default -> throw new IllegalStateException(format.toString());
        };
    }

    private static Dataset<Row> textFiles(SparkSession spark, String path, Format format) {
        FileSystem fs = fileSystem(spark, path);
        Path root = fs.makeQualified(new Path(path));
        String base = (format == Format.TEXT_FILE ? root.getParent() : root).toUri().getPath();
        // binaryFile, not the text source: the bytes are decoded strictly here, so a file that is not UTF-8
        // becomes an error row instead of text with replacement characters.
        Dataset<Row> files = spark.read().format("binaryFile")
                .option("recursiveFileLookup", "true")
                .option("pathGlobFilter", "*.{txt,md}")
                .load(root.toString());
        return files.select("path", "content").map((MapFunction<Row, Row>) r -> decode(base, r.getString(0), r.getAs(1)),
                Encoders.row(DOCUMENTS));
    }

    static Row decode(String base, String uri, byte[] content) {
        // Compared as paths: the listing may spell the scheme differently (file:/x, file:///x).
        String path = new Path(uri).toUri().getPath();
        String prefix = base.endsWith("/") ? base : base + "/";
        String docId = path.startsWith(prefix) ? path.substring(prefix.length()) : new Path(uri).getName();
        try {
            String text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(content)).toString();
            return RowFactory.create(docId, null, text, null);
        } catch (CharacterCodingException e) {
            return RowFactory.create(docId, null, null, "the file is not valid UTF-8 text");
        }
    }

    static Format detect(SparkSession spark, String path, boolean corpus) {
        FileSystem fs = fileSystem(spark, path);
        try {
            Path p = new Path(path);
            if (!fs.exists(p)) {
                throw new InputException((corpus ? "--corpus" : "--questions") + ": no such file or folder: " + path);
            }
            FileStatus status = fs.getFileStatus(p);
            if (status.isFile()) return byName(p.getName(), path, corpus);
            java.util.EnumSet<Format> found = java.util.EnumSet.noneOf(Format.class);
            for (FileStatus f : fs.listStatus(p)) {
                String name = f.getPath().getName();
                if (name.startsWith(".") || name.startsWith("_") || f.isDirectory()) continue;
                Format byName = formatOf(name);
                if (byName != null) found.add(byName);
            }
            // Text files make a text corpus (whatever else lies beside them), and so does a folder of
            // sub-folders (docs/<author>/<book>.txt); a table folder (Spark's part-* files) holds one format.
            if (found.isEmpty() || found.contains(Format.TEXT_FILE)) return Format.TEXT_FOLDER;
            if (found.size() == 1) return found.iterator().next();
            throw new InputException((corpus ? "--corpus " : "--questions ") + path
                    + ": the folder mixes file types " + found + "; name the file (e.g. documents.jsonl) or a folder of one type");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + path + ": " + e.getMessage(), e);
        }
    }

    private static Format byName(String name, String path, boolean corpus) {
        Format f = formatOf(name);
        if (f == null) {
            throw new InputException((corpus ? "--corpus " : "--questions ") + path
                    + ": unknown file type (expected .txt, .md, .parquet, .jsonl, .json or .csv)");
        }
        return f;
    }

    private static Format formatOf(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        if (n.endsWith(".parquet")) return Format.PARQUET;
        if (n.endsWith(".jsonl") || n.endsWith(".json") || n.endsWith(".ndjson")) return Format.JSON;
        if (n.endsWith(".csv")) return Format.CSV;
        if (n.endsWith(".txt") || n.endsWith(".md")) return Format.TEXT_FILE;
        return null;
    }

    private static void require(Dataset<Row> t, String path, String... columns) {
        List<String> have = Arrays.asList(t.columns());
        for (String c : columns) {
            if (!have.contains(c)) {
                throw new InputException(path + ": no column '" + c + "' (has " + String.join(", ", have) + ")");
            }
        }
    }

    private static FileSystem fileSystem(SparkSession spark, String path) {
        try {
            return new Path(path).getFileSystem(spark.sparkContext().hadoopConfiguration());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }


    /** The input cannot be read as asked (missing, unknown format, missing columns): a usage error. */
    public static final class InputException extends IllegalArgumentException {
        InputException(String message) {
            super(message);
        }
    }
}
