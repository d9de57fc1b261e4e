package cascadelm.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.stream.StreamSupport;

/**
 * The Hugging Face fixture models of {@code src/test/resources/fixtures/models} (see its README) as the tests read
 * them: files, manifests, logits, token lists. A fixture inside a test jar (the GPU machine's runs) is copied
 * out to a temporary folder once.
 */
public final class ModelFixtures {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path extracted;

    private ModelFixtures() {
    }

    /** The fixture file {@code name} as a path. */
    public static synchronized Path file(String name) {
        URL url = ModelFixtures.class.getResource("/fixtures/models/" + name);
        if (url == null) throw new IllegalStateException("missing fixture " + name);
        try {
            if (url.getProtocol().equals("file")) return Path.of(url.toURI());
            if (extracted == null) extracted = Files.createTempDirectory("cascade-fixtures");
            Path target = extracted.resolve(name);
            if (!Files.exists(target)) {
                try (InputStream in = url.openStream()) {
                    Files.copy(in, target);
                }
            }
            return target;
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("cannot read fixture " + name + ": " + e.getMessage(), e);
        }
    }

    /** The manifest {@code NAME.json} of one fixture model. */
    public static JsonNode manifest(String model) {
        try {
            return JSON.readTree(file(model + ".json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code count} little-endian float32 values, the whole file (its size is checked). */
    public static float[] readFloats(Path file, int count) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.capacity() != count * 4L) {
            throw new IllegalStateException(file.getFileName() + " holds " + b.capacity() + " bytes, expected " + count * 4L);
        }
        float[] f = new float[count];
        b.asFloatBuffer().get(f);
        return f;
    }

    /**
     * The Hugging Face logits a fixture variant recorded ({@code variants.VARIANT.logits} of the manifest): row
     * {@code r} is the logits after token {@code firstRow + r} of the manifest's sequence, {@code vocab} wide.
     */
    public record RecordedLogits(int firstRow, int rows, int vocab, float[] values) {
        public static RecordedLogits of(JsonNode variant) throws IOException {
            JsonNode logits = variant.get("logits");
            int rows = logits.get("shape").get(0).asInt();
            int vocab = logits.get("shape").get(1).asInt();
            return new RecordedLogits(logits.get("first_position").asInt(), rows, vocab,
                    readFloats(file(logits.get("file").asText()), rows * vocab));
        }

        /** Recorded value {@code j} of row {@code row}. */
        public float at(int row, int j) {
            return values[row * vocab + j];
        }

        /** The largest |recorded| of row {@code row} and the largest |out − recorded| there, {@code out} read from {@code offset}. */
        public Deviation deviation(int row, float[] out, int offset) {
            double scale = 0, worst = 0;
            for (int j = 0; j < vocab; j++) {
                scale = Math.max(scale, Math.abs(at(row, j)));
                worst = Math.max(worst, Math.abs(out[offset + j] - at(row, j)));
            }
            return new Deviation(scale, worst);
        }
    }

    /** One row's largest |logit| and largest difference from it. */
    public record Deviation(double scale, double worst) {
        public double ratio() {
            return worst / scale;
        }
    }

    public static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    /** For-each over an iterator (Jackson's field names). */
    public static <T> Iterable<T> iterable(Iterator<T> it) {
        return () -> it;
    }
}
