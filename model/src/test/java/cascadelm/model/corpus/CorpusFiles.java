package cascadelm.model.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Reading a generated corpus back, for the tests. */
final class CorpusFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CorpusFiles() {
    }

    static List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> nodes = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) nodes.add(JSON.readTree(line));
        return nodes;
    }

    static List<JsonNode> documents(Path dir) throws IOException {
        return lines(dir.resolve(CorpusWriter.DOCUMENTS));
    }

    /** Every regular file under {@code dir}, relative, sorted: two corpora are equal when these and their bytes are. */
    static List<Path> files(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.filter(Files::isRegularFile).map(dir::relativize).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Words as the format defines them: maximal runs of non-whitespace. */
    static long words(String text) {
        return DocumentBuilder.countWords(text, 0, text.length());
    }

    static Path generate(CorpusSpec spec, Path dir) throws IOException {
        Files.createDirectories(dir);
        CorpusGenerator.generate(spec, dir, null);
        return dir;
    }
}
