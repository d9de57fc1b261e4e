package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Utf8StreamingDecoderTest {
    private static final String TEXT = "aé€😀b中\uD834\uDD1E";

    @Test
    void everySplitPointEmitsOnlyWholeCharacters() {
        byte[] utf8 = TEXT.getBytes(StandardCharsets.UTF_8);
        // A byte-level vocabulary holding every prefix and suffix of the text's bytes.
        VocabBuilder v = new VocabBuilder().byteAlphabet();
        for (int k = 1; k < utf8.length; k++) {
            v.normal(spell(Arrays.copyOfRange(utf8, 0, k)), 0).normal(spell(Arrays.copyOfRange(utf8, k, utf8.length)), 0);
        }
        Tokenizer t = v.build("gpt2");
        for (int k = 1; k < utf8.length; k++) {
            Tokenizer.StreamingDecoder d = t.streamingDecoder();
            String first = d.accept(v.id(spell(Arrays.copyOfRange(utf8, 0, k))));
            assertEquals(wholeCharactersIn(utf8, k), first, "split at byte " + k);
            String second = d.accept(v.id(spell(Arrays.copyOfRange(utf8, k, utf8.length))));
            assertEquals(TEXT, first + second + d.flush(), "split at byte " + k);
        }
    }

    @Test
    void byteFallbackTokensOneByOneNeverBreakACharacter() {
        VocabBuilder v = new VocabBuilder().add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>").byteTokens();
        Tokenizer t = v.build("llama");
        Tokenizer.StreamingDecoder d = t.streamingDecoder();
        StringBuilder out = new StringBuilder();
        for (byte b : TEXT.getBytes(StandardCharsets.UTF_8)) {
            String piece = d.accept(v.id(String.format("<0x%02X>", b & 0xFF)));
            assertFalse(piece.contains("\uFFFD"), "broken character emitted");
            out.append(piece);
            assertEquals(TEXT.substring(0, out.length()), out.toString());
        }
        assertEquals("", d.flush());
        assertEquals(TEXT, out.toString());
    }

    @Test
    void flushTurnsAnUnfinishedCharacterIntoReplacement() {
        VocabBuilder v = new VocabBuilder().add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>").byteTokens();
        Tokenizer.StreamingDecoder d = v.build("llama").streamingDecoder();
        assertEquals("", d.accept(v.id("<0xE2>")));
        assertEquals("", d.accept(v.id("<0x82>")));
        assertEquals("\uFFFD", d.flush());
        assertEquals("", d.flush());
    }

    @Test
    void malformedBytesAreNotHeldBack() {
        VocabBuilder v = new VocabBuilder().add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>").byteTokens();
        Tokenizer.StreamingDecoder d = v.build("llama").streamingDecoder();
        assertEquals("\uFFFD", d.accept(v.id("<0x80>")));
        assertEquals("", d.accept(v.id("<0xE2>")));
        assertEquals("\uFFFDA", d.accept(v.id("<0x41>")));
    }

    @Test
    void sentencePieceStreamDropsTheAddedSpaceOnlyAfterBos() {
        VocabBuilder v = new VocabBuilder().add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>")
                .normal("\u2581Hi", 0).normal("\u2581there", 0);
        Tokenizer t = v.build("llama");
        Tokenizer.StreamingDecoder fromStart = t.streamingDecoder();
        assertEquals("", fromStart.accept(v.id("<s>")));
        assertEquals("Hi", fromStart.accept(v.id("\u2581Hi")));
        assertEquals(" there", fromStart.accept(v.id("\u2581there")));

        // Generated tokens continue a prompt: their space is real.
        Tokenizer.StreamingDecoder continuing = t.streamingDecoder();
        assertEquals(" there", continuing.accept(v.id("\u2581there")));
    }

    private static String spell(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) sb.append(ByteLevelAlphabet.charOf(b & 0xFF));
        return sb.toString();
    }

    /** The characters whose bytes all lie in the first {@code k} bytes. */
    private static String wholeCharactersIn(byte[] utf8, int k) {
        StringBuilder sb = new StringBuilder();
        int used = 0;
        for (int i = 0; i < TEXT.length(); ) {
            int cp = TEXT.codePointAt(i);
            String c = Character.toString(cp);
            used += c.getBytes(StandardCharsets.UTF_8).length;
            if (used > k) break;
            sb.append(c);
            i += Character.charCount(cp);
        }
        return sb.toString();
    }
}
