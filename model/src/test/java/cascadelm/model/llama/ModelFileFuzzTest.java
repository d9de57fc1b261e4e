package cascadelm.model.llama;

import cascadelm.model.gguf.GgufFile;
import cascadelm.model.gguf.GgufTensor;
import cascadelm.model.gguf.ModelFormatException;
import cascadelm.model.tokenizer.ChatTemplate;
import cascadelm.model.tokenizer.Tokenizer;
import cascadelm.model.tokenizer.Tokenizers;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * Coverage-guided fuzzing (Jazzer) of everything a model file goes through before any weight is used:
 * the GGUF reader, tokenizer loading, chat template detection and {@link LlamaModel#open}. The only
 * acceptable outcomes are success and a {@link ModelFormatException}; any other exception or error
 * (OutOfMemoryError, StackOverflowError, a hang past the timeout) is a finding.
 *
 * <p>The input is the header of a model file (everything before the tensor data); the file under test
 * is that header followed by {@link #DATA_ROOM} zero bytes (a sparse extension, so nothing is written),
 * which holds the tensor data of every fixture. Mutations thus land in metadata and tensor infos rather
 * than in megabytes of weights. The header alone, without the room, is opened too, so extents past the
 * end of the file are exercised as well. Seeds are the headers of the fixture models.
 *
 * <p>{@code mvn test} runs the seeds (regression mode) and, through the {@code fuzz-model-files}
 * execution of the surefire plugin, a short fuzzing run; a longer run is in README.md, "Fuzzing".
 */
class ModelFileFuzzTest {
    /** Room for the tensor data after a header: more than the largest fixture's (2.4 MB). */
    static final long DATA_ROOM = 4L << 20;
    /** A case that takes longer than this is a hang: a fixture opens in milliseconds. */
    static final int DEADLINE_SECONDS = 10;

    private static final ExecutorService WORKER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "model-file-fuzz");
        t.setDaemon(true);  // a hung case must not keep the JVM alive
        return t;
    });

    private static Path dir;
    private static Path headerOnly;
    private static Path withRoom;

    @BeforeAll
    static void createFiles() throws IOException {
        dir = Files.createTempDirectory("model-file-fuzz");
        headerOnly = dir.resolve("header.gguf");
        withRoom = dir.resolve("model.gguf");
    }

    @AfterAll
    static void deleteFiles() throws IOException {
        Files.deleteIfExists(headerOnly);
        Files.deleteIfExists(withRoom);
        Files.deleteIfExists(dir);
    }

    @MethodSource("fixtureHeaders")
    @FuzzTest(maxDuration = "45s")  // JAZZER_MAX_DURATION overrides it (README, "Fuzzing")
    void modelFileOpensOrFailsWithModelFormatException(byte[] header) throws Throwable {
        write(headerOnly, header, 0);
        withDeadline(() -> openEverything(headerOnly));
        write(withRoom, header, DATA_ROOM);
        withDeadline(() -> openEverything(withRoom));
    }

    /**
     * Runs one case on the worker thread and fails if it takes longer than {@link #DEADLINE_SECONDS}.
     * Not JUnit's @Timeout: Jazzer runs all fuzzing inputs in one JUnit invocation, so @Timeout would
     * bound the whole run (jazzer issues 930, 1060).
     */
    private static void withDeadline(Callable<Void> job) throws Throwable {
        Future<Void> result = WORKER.submit(job);
        try {
            result.get(DEADLINE_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            result.cancel(true);
            throw new AssertionError("a model file took more than " + DEADLINE_SECONDS + " s to open or reject");
        } catch (ExecutionException e) {
            throw e.getCause();
        }
    }

    /** Everything a model file is read for; returns normally or throws ModelFormatException. */
    private static Void openEverything(Path path) throws IOException {
        try (GgufFile file = GgufFile.open(path)) {
            for (GgufTensor t : file.tensors()) {
                try {
                    t.type();
                } catch (ModelFormatException expected) {
                    // an unsupported type: LlamaModel.open reports it when it needs the tensor
                }
            }
            try {
                Tokenizer tokenizer = Tokenizers.fromMetadata(file.metadata());
                // A tokenizer that loads must work: encode and decode a little text.
                int[] ids = tokenizer.encodeWithSpecialTokens("Hello wörld <|im_start|>\n\t 123 ");
                tokenizer.decode(ids);
                tokenizer.decode(new int[] {0, tokenizer.vocabularySize() - 1});
            } catch (ModelFormatException expected) {
                // not a usable tokenizer
            }
            try {
                ChatTemplate.fromMetadata(file.metadata());
            } catch (ModelFormatException expected) {
                // no known template (UnsupportedChatTemplateException)
            }
        } catch (ModelFormatException expected) {
            return null;
        }
        try (LlamaModel model = LlamaModel.open(path)) {
            model.config();
        } catch (ModelFormatException expected) {
            // a well-formed GGUF file that is not a usable model
        }
        return null;
    }

    /** Writes {@code header} and extends the file by {@code room} zero bytes without writing them. */
    private static void write(Path path, byte[] header, long room) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            f.setLength(0);
            f.write(header);
            f.setLength(header.length + room);
        }
    }

    /** The header (everything before the tensor data) of every fixture model. */
    static Stream<Arguments> fixtureHeaders() throws IOException, URISyntaxException {
        List<Arguments> seeds = new ArrayList<>();
        try (Stream<Path> files = Files.list(Path.of(ModelFileFuzzTest.class.getResource("/fixtures/models").toURI()))) {
            for (Path p : files.filter(f -> f.toString().endsWith(".gguf")).sorted().toList()) {
                seeds.add(Arguments.of(Named.of(p.getFileName().toString(), header(p))));
            }
        }
        return seeds.stream();
    }

    private static byte[] header(Path model) {
        try (GgufFile f = GgufFile.open(model)) {
            long dataStart = f.tensors().stream().mapToLong(GgufTensor::fileOffset).min().orElseThrow();
            byte[] all = Files.readAllBytes(model);
            return Arrays.copyOf(all, (int) dataStart);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
