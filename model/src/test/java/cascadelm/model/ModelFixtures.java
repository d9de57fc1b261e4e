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

    public static int[] ints(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).mapToInt(JsonNode::asInt).toArray();
    }

    /** For-each over an iterator (Jackson's field names). */
    public static <T> Iterable<T> iterable(Iterator<T> it) {
        return () -> it;
    }
}
