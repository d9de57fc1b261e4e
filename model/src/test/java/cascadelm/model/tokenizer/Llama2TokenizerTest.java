package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The SentencePiece tokenizer on the real Llama 2 vocabulary, read from shared/vocab beside the
 * repository (never committed). Expected ids are those of the sentencepiece library (0.2.2).
 */
class Llama2TokenizerTest {
    private static Tokenizer llama2;

    @BeforeAll
    static void load() throws IOException {
        Optional<Path> file = SentencePieceModelFile.llama2();
        Assumptions.assumeTrue(file.isPresent(), "shared/vocab/llama2-tokenizer.model is not on this machine");
        llama2 = Tokenizers.fromMetadata(SentencePieceModelFile.read(file.get()));
    }

    @Test
    void readsTheWholeVocabulary() {
        assertEquals(32_000, llama2.vocabularySize());
        assertEquals("\u2581", llama2.piece(29871));
        assertEquals("<0x0A>", llama2.piece(13));
        assertEquals(1, llama2.bosToken());
    }

    @Test
    void encodesAsSentencePieceDoes() {
        assertArrayEquals(new int[] {15043, 3186}, llama2.encode("Hello world"));
        assertArrayEquals(new int[] {15043, 29892, 3186, 29991}, llama2.encode("Hello, world!"));
        assertArrayEquals(new int[] {29871, 15043}, llama2.encode(" Hello"));
        assertArrayEquals(new int[] {29871, 13}, llama2.encode("\n"));
        assertArrayEquals(new int[] {29871, 29906, 29900, 29906, 29941}, llama2.encode("2023"));
        assertArrayEquals(new int[] {259, 1023, 29871, 8162}, llama2.encode("  two  spaces"));
        assertArrayEquals(new int[] {822, 285, 29898, 29916, 1125, 13, 12, 2457, 921, 334, 29871, 29906, 13},
                llama2.encode("def f(x):\n\treturn x * 2\n"));
        assertArrayEquals(new int[] {1055, 30085, 345, 274, 28059, 6896, 398, 29948}, llama2.encode("naïve café résumé"));
        assertArrayEquals(new int[] {29871, 30589, 30389, 30353, 30644, 30449, 30793, 30967}, llama2.encode("こんにちは世界"));
    }

    @Test
    void emojiFallBackToBytes() {
        int[] tokens = llama2.encode("😀 emoji");
        assertArrayEquals(new int[] {29871, 243, 162, 155, 131, 953, 29877, 2397}, tokens);
        assertEquals("😀 emoji", llama2.decode(tokens));
    }

    @Test
    void controlTokenTextStaysText() {
        assertArrayEquals(new int[] {529, 29879, 29958, 1333, 4266, 829, 29879, 29958}, llama2.encode("<s>not special</s>"));
        assertArrayEquals(new int[] {1, 15043, 2}, llama2.encodeWithSpecialTokens("<s>Hello</s>"));
    }

    @Test
    void randomUnicodeRoundTrips() {
        Random random = new Random(2);
        for (int i = 0; i < 3000; i++) {
            String text = RandomText.unicode(random, 1 + random.nextInt(40), cp -> cp != 0x2581);
            assertEquals(text, llama2.decode(llama2.encode(text)), () -> "round trip of " + RandomText.codePoints(text));
        }
    }

    @Test
    void aMillionCharactersOfTextEncodeQuickly() {
        String sentence = "The quick brown fox jumps over the lazy dog; naïve café, 2024! ";
        String text = sentence.repeat(1_000_000 / sentence.length() + 1);
        int[] tokens = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> llama2.encode(text));
        assertEquals(text, llama2.decode(tokens));
    }
}
