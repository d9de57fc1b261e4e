package cascadelm.spark.io;

import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.SerializableConfiguration;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

/**
 * Reads the corpus and the questions into DataFrames with fixed columns, whatever the input format:
 * documents as (doc_id, title, text, problem), questions as (doc_id, question_id, question). Rows are
 * passed on as they are, null keys and duplicates included: {@link cascadelm.spark.core.InputGroup} deals with those.
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
                yield t.select(key(t, "doc_id").as("doc_id"), title.as("title"),
                                col("text").cast("string").as("text"), lit(null).cast("string").as("problem"));
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
        return t.select(key(t, "doc_id").as("doc_id"), key(t, "question_id").as("question_id"),
                        col("question").cast("string").as("question"));
    }

    /**
     * A key column as a string; null for a line Spark's JSON reader could not parse (broken JSON or UTF-8).
     * Asking for the corrupt-record column also keeps the answer the same whichever columns a query reads:
     * without it, a query of the key alone parses past the broken text and finds an id that the full read
     * does not, and the row would vanish from the job without being counted.
     */
    private static Column key(Dataset<Row> t, String name) {
        Column c = col(name).cast("string");
        return Arrays.asList(t.columns()).contains(CORRUPT_RECORD) ? when(col(CORRUPT_RECORD).isNotNull(), lit(null).cast("string")).otherwise(c) : c;
    }

    private static final String CORRUPT_RECORD = "_corrupt_record";

    private static Dataset<Row> table(SparkSession spark, String path, Format format) {
        return switch (format) {
            case PARQUET -> spark.read().parquet(path);
            case JSON -> spark.read().option("columnNameOfCorruptRecord", CORRUPT_RECORD).json(path);
            case CSV -> spark.read().option("header", "true").option("multiLine", "true").option("escape", "\"").csv(path);
            default -> throw new IllegalStateException(format.toString());
        };
    }

    /** A file larger than this is not read (a Spark row holds at most 2 GB, a Java string 2^31 characters). */
    static final long MAX_FILE_BYTES = 512L << 20;

    private static Dataset<Row> textFiles(SparkSession spark, String path, Format format) {
        FileSystem fs = fileSystem(spark, path);
        Path root = fs.makeQualified(new Path(path));
        List<TextFile> files = format == Format.TEXT_FILE ? List.of(new TextFile(root.getName(), root.toString(), null))
                : TextFolder.list(fs, root);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        int slices = Math.max(1, Math.min(files.size(), sc.defaultParallelism() * 4));
        SerializableConfiguration conf = new SerializableConfiguration(spark.sparkContext().hadoopConfiguration());
        // The driver lists, the executors read: a file that cannot be read becomes its document's error rows.
        return spark.createDataFrame(sc.parallelize(files, slices).map(f -> read(f, conf)), DOCUMENTS);
    }

    /** One text file of the corpus: its doc_id, where it is, and why it cannot be read when the listing knows. */
    record TextFile(String docId, String uri, String problem) implements Serializable {
    }

    static Row read(TextFile f, SerializableConfiguration conf) {
        if (f.problem() != null) return RowFactory.create(f.docId(), null, null, f.problem());
        try {
            Path p = new Path(f.uri());
            FileSystem fs = p.getFileSystem(conf.value());
            if ("file".equals(p.toUri().getScheme()) && !Files.isRegularFile(java.nio.file.Path.of(p.toUri()))) {
                // A pipe or a device would block the read forever or never end; only plain files are read.
                return RowFactory.create(f.docId(), null, null,
                        Files.exists(java.nio.file.Path.of(p.toUri())) ? "not a regular file (a pipe, socket or device?): not read"
                                : "the file does not exist (a broken link?)");
            }
            long length = fs.getFileStatus(p).getLen();
            if (length > MAX_FILE_BYTES) {
                return RowFactory.create(f.docId(), null, null, "the file has " + length + " bytes, more than "
                        + (MAX_FILE_BYTES >> 20) + " MiB: split it into several documents");
            }
            byte[] content;
            try (InputStream in = fs.open(p)) {
                content = in.readNBytes((int) MAX_FILE_BYTES + 1);
            }
            if (content.length > MAX_FILE_BYTES) {
                return RowFactory.create(f.docId(), null, null, "the file has more than " + (MAX_FILE_BYTES >> 20)
                        + " MiB: split it into several documents");
            }
            return decode(f.docId(), content);
        } catch (IOException | RuntimeException e) {
            return RowFactory.create(f.docId(), null, null, "cannot read the file: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage().lines().findFirst().orElse("")));
        }
    }

    static Row decode(String docId, byte[] content) {
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
