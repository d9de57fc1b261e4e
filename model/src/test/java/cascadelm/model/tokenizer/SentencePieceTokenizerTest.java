package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SentencePieceTokenizerTest {
    private static final String SP = "\u2581";

    /** <unk>, <s>, </s>, the 256 byte tokens, then the given normal pieces with their scores. */
    private static VocabBuilder vocab() {
        return new VocabBuilder()
                .add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>")
                .byteTokens()
                .normal(SP, -1).normal("a", -2).normal("b", -2).normal("c", -2);
    }

    private static int[] ids(VocabBuilder v, String... pieces) {
        return Arrays.stream(pieces).mapToInt(v::id).toArray();
    }

    @Test
    void highestScoringPairMergesFirst() {
        VocabBuilder v = vocab().normal("ab", -3).normal("bc", -1.5);
        assertArrayEquals(ids(v, SP, "a", "bc"), v.build("llama").encode("abc"));

        VocabBuilder w = vocab().normal("ab", -1.5).normal("bc", -3);
        assertArrayEquals(ids(w, SP, "ab", "c"), w.build("llama").encode("abc"));
    }

    @Test
    void equalScoresMergeLeftmostFirst() {
        VocabBuilder v = vocab().normal("aa", -1);
        assertArrayEquals(ids(v, SP, "aa", "a"), v.build("llama").encode("aaa"));
    }

    @Test
    void mergesBuildOnEarlierMerges() {
        VocabBuilder v = vocab().normal(SP + "a", -1).normal("bc", -1.2).normal(SP + "abc", -5);
        assertArrayEquals(ids(v, SP + "abc"), v.build("llama").encode("abc"));
    }

    @Test
    void spacesBecomeMetaSpaceWithOneAddedInFront() {
        VocabBuilder v = vocab().normal(SP + "a", -1).normal(SP + "b", -1);
        assertArrayEquals(ids(v, SP + "a", SP + "b", SP, SP, "c"), v.build("llama").encode("a b  c"));
    }

    @Test
    void missingCharactersFallBackToTheirUtf8Bytes() {
        VocabBuilder v = vocab();
        assertArrayEquals(ids(v, SP, "<0xC3>", "<0xA9>"), v.build("llama").encode("é"));
        // An emoji is four bytes of UTF-8 (and two Java chars).
        assertArrayEquals(ids(v, SP, "<0xF0>", "<0x9F>", "<0x98>", "<0x80>"), v.build("llama").encode("😀"));
    }

    @Test
    void decodeJoinsByteTokensIntoCharacters() {
        VocabBuilder v = vocab();
        Tokenizer t = v.build("llama");
        assertEquals("a😀é", t.decode(t.encode("a😀é")));
    }

    @Test
    void decodeDropsOnlyTheSpaceThatEncodingAdded() {
        VocabBuilder v = vocab();
        Tokenizer t = v.build("llama");
        assertEquals("a", t.decode(ids(v, SP, "a")));
        assertEquals("a", t.decode(new int[] {t.bosToken(), v.id(SP), v.id("a")}));
        assertEquals(" a", t.decode(t.encode(" a")));
        assertEquals("a b", t.decode(ids(v, SP, "a", SP, "b")));
    }

    @Test
    void controlTokensDecodeAsNothing() {
        VocabBuilder v = vocab();
        Tokenizer t = v.build("llama");
        assertEquals("ab", t.decode(new int[] {v.id("<s>"), v.id(SP), v.id("a"), v.id("</s>"), v.id("b")}));
    }

    @Test
    void encodeNeverProducesControlTokens() {
        VocabBuilder v = vocab().normal("<", -1).normal("s", -1).normal(">", -1).normal("<s", -0.5);
        Tokenizer t = v.build("llama");
        assertArrayEquals(ids(v, SP, "<s", ">"), t.encode("<s>"));
        assertArrayEquals(new int[] {v.id("<s>"), v.id(SP), v.id("a")}, t.encodeWithSpecialTokens("<s>a"));
    }

    @Test
    void textAfterASpecialTokenGetsTheSpacePrefixAsInLlamaCpp() {
        VocabBuilder v = vocab().normal(SP + "a", -1);
        Tokenizer t = v.build("llama");
        assertArrayEquals(new int[] {v.id(SP + "a"), v.id("</s>"), v.id(SP + "a")}, t.encodeWithSpecialTokens("a</s>a"));
    }

    @Test
    void emptyTextHasNoTokens() {
        assertArrayEquals(new int[0], vocab().build("llama").encode(""));
    }

    @Test
    void randomUnicodeRoundTrips() {
        VocabBuilder v = vocab().normal(SP + "a", -1).normal("ab", -1.5).normal("é", -2).normal(SP + "é", -1);
        Tokenizer t = v.build("llama");
        Random random = new Random(42);
        for (int i = 0; i < 2000; i++) {
            // U+2581 is excluded: SentencePiece itself decodes it as a space.
            String text = RandomText.unicode(random, 1 + random.nextInt(30), cp -> cp != 0x2581);
            assertEquals(text, t.decode(t.encode(text)), () -> "round trip of " + RandomText.codePoints(text));
        }
    }

    @Test
    void aMillionCharactersEncodeQuickly() {
        VocabBuilder v = vocab().normal(SP + "a", -1).normal("ab", -1.5).normal("bc", -1.2).normal(SP + "abc", -0.5);
        Tokenizer t = v.build("llama");
        String text = RandomText.words(new Random(1), 1_000_000, "abc é");
        // Generous: the point is to fail on quadratic behaviour (hours), not to benchmark.
        int[] tokens = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> t.encode(text));
        assertEquals(text, t.decode(tokens));
        assertFalse(tokens.length > 2 * text.length());
    }
}
