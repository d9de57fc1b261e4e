package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import cascadelm.model.gguf.MapMetadata;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every case of the reference encodings made with the sentencepiece and Hugging Face tokenizers
 * libraries (fixtures/tokenizer/*.json, vocabularies in fixtures/models): the same ids, pieces and
 * decoded text, and for BPE the ids with special tokens parsed.
 */
class ReferenceFixturesTest {
    private static final ObjectMapper JSON = new ObjectMapper();


    @TestFactory
    Stream<DynamicTest> llamaSpmMatchesSentencePiece() throws IOException {
        return cases("llama-spm", SentencePieceModelFile.read(resource("fixtures/models/llama-spm.tokenizer.model")));
    }

    @TestFactory
    Stream<DynamicTest> llama2SpmMatchesSentencePiece() throws IOException {
        Optional<Path> file = SentencePieceModelFile.llama2();
        Assumptions.assumeTrue(file.isPresent(), "shared/vocab/llama2-tokenizer.model is not on this machine");
        return cases("llama2-spm", SentencePieceModelFile.read(file.get()));
    }

    @TestFactory
    Stream<DynamicTest> llama3BpeMatchesHuggingFace() {
        return cases("llama3-bpe", huggingFaceBpe("fixtures/models/llama3-bpe.tokenizer.json", "llama-bpe"));
    }

    @TestFactory
    Stream<DynamicTest> qwen2BpeMatchesHuggingFace() {
        return cases("qwen2-bpe", huggingFaceBpe("fixtures/models/qwen2-bpe.tokenizer.json", "qwen2"));
    }

    @Test
    void chatPromptsArePrefixesOfTheReferenceRendering() {
        for (String name : List.of("llama3-bpe", "qwen2-bpe")) {
            Map<?, ?> chat = (Map<?, ?>) fixture(name).get("chat");
            List<?> messages = (List<?>) chat.get("messages");
            String system = (String) ((Map<?, ?>) messages.get(0)).get("content");
            String user = (String) ((Map<?, ?>) messages.get(1)).get("content");
            String rendered = (String) chat.get("rendered");
            String ours = ChatTemplate.detect(rendered).render(system, user, true);
            // The reference goes on with the assistant's answer; ours stops where the model answers.
            assertTrue(rendered.startsWith(ours), name + ": " + ours);
            String assistantOpen = name.startsWith("llama3") ? "<|start_header_id|>assistant<|end_header_id|>\n\n" : "<|im_start|>assistant\n";
            assertTrue(ours.endsWith(assistantOpen) && rendered.endsWith(assistantOpen), name);
        }
    }

    private static Stream<DynamicTest> cases(String name, MapMetadata metadata) {
        Tokenizer tokenizer = Tokenizers.fromMetadata(metadata);
        Map<String, Object> fixture = fixture(name);
        assertEquals(((Number) fixture.get("vocab_size")).intValue(), tokenizer.vocabularySize(), name);
        List<?> cases = (List<?>) fixture.get("cases");
        return cases.stream().map(c -> (Map<?, ?>) c).map(c -> DynamicTest.dynamicTest(
                name + " " + RandomText.codePoints((String) c.get("text")).size() + " chars: " + printable((String) c.get("text")),
                () -> {
                    String text = (String) c.get("text");
                    int[] ids = ints(c.get("ids"));
                    assertArrayEquals(ids, tokenizer.encode(text), "ids");
                    Object parsed = c.containsKey("ids_parse_special") ? c.get("ids_parse_special") : c.get("ids");
                    if (fixture.get("kind").equals("bpe")) {
                        assertArrayEquals(ints(parsed), tokenizer.encodeWithSpecialTokens(text), "ids with special tokens parsed");
                    }
                    List<?> pieces = (List<?>) c.get("pieces");
                    for (int i = 0; i < ids.length; i++) assertEquals(pieces.get(i), tokenizer.piece(ids[i]), "piece " + i);
                    assertEquals(c.get("decoded"), tokenizer.decode(ids), "decoded");
                }));
    }

    /** A byte-level BPE vocabulary from a Hugging Face tokenizer.json, as llama.cpp's converter writes it to GGUF. */
    private static MapMetadata huggingFaceBpe(String resource, String pre) {
        Map<?, ?> json = (Map<?, ?>) parse(read(resource));
        Map<?, ?> model = (Map<?, ?>) json.get("model");
        Map<?, ?> vocab = (Map<?, ?>) model.get("vocab");
        List<?> added = (List<?>) json.get("added_tokens");
        int size = vocab.size();
        for (Object a : added) size = Math.max(size, ((Number) ((Map<?, ?>) a).get("id")).intValue() + 1);
        String[] tokens = new String[size];
        long[] types = new long[size];
        vocab.forEach((piece, id) -> {
            tokens[((Number) id).intValue()] = (String) piece;
            types[((Number) id).intValue()] = TokenType.NORMAL.code;
        });
        for (Object a : added) {
            Map<?, ?> token = (Map<?, ?>) a;
            int id = ((Number) token.get("id")).intValue();
            tokens[id] = (String) token.get("content");
            types[id] = (Boolean) token.get("special") ? TokenType.CONTROL.code : TokenType.USER_DEFINED.code;
        }
        String[] merges = ((List<?>) model.get("merges")).stream()
                .map(m -> m instanceof List<?> pair ? pair.get(0) + " " + pair.get(1) : (String) m)
                .toArray(String[]::new);
        Map<String, Object> m = new HashMap<>();
        m.put(Tokenizers.MODEL, "gpt2");
        m.put(Tokenizers.PRE, pre);
        m.put(Tokenizers.TOKENS, tokens);
        m.put(Tokenizers.TOKEN_TYPE, types);
        m.put(Tokenizers.MERGES, merges);
        return new MapMetadata(m);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> fixture(String name) {
        return (Map<String, Object>) parse(read("fixtures/tokenizer/" + name + ".json"));
    }

    private static Object parse(String json) {
        try {
            return JSON.readValue(json, Object.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }

    private static String printable(String text) {
        String shown = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
        return shown.length() > 40 ? shown.substring(0, 40) + "…" : shown;
    }

    private static Path resource(String name) {
        try {
            return Path.of(ReferenceFixturesTest.class.getClassLoader().getResource(name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String read(String name) {
        try {
            return Files.readString(resource(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
