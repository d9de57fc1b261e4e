package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BpeTokenizerTest {

    private static int[] ids(VocabBuilder v, String... texts) {
        return Arrays.stream(texts).mapToInt(v::bpeId).toArray();
    }

    @Test
    void lowerRankedMergesApplyFirst() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge("b", "c").merge("a", "b");
        assertArrayEquals(ids(v, "a", "bc"), v.build("gpt2").encode("abc"));

        VocabBuilder w = new VocabBuilder().byteAlphabet().merge("a", "b").merge("b", "c");
        assertArrayEquals(ids(w, "ab", "c"), w.build("gpt2").encode("abc"));
    }

    @Test
    void mergesApplyOnlyToTheExactPairListed() {
        // "abc" exists as "ab"+"c"; the pair "a"+"bc" must not produce it.
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge("b", "c").merge("a", "b").merge("ab", "c");
        assertArrayEquals(ids(v, "a", "bc"), v.build("gpt2").encode("abc"));
    }

    @Test
    void mergesNeverCrossWords() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge("a", " ").merge(" ", "b");
        assertArrayEquals(ids(v, "a", " b"), v.build("gpt2").encode("a b"));
    }

    @Test
    void spacesAreSpelledInTheByteAlphabet() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge(" ", "h");
        assertEquals("\u0120h", v.build("gpt2").piece(v.bpeId(" h")));
        assertArrayEquals(ids(v, " h"), v.build("gpt2").encode(" h"));
    }

    @Test
    void multiByteCharactersStartAsTheirBytes() {
        VocabBuilder v = new VocabBuilder().byteAlphabet();
        Tokenizer t = v.build("gpt2");
        byte[] utf8 = "😀".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int[] expected = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) expected[i] = v.id(String.valueOf(ByteLevelAlphabet.charOf(utf8[i] & 0xFF)));
        assertArrayEquals(expected, t.encode("😀"));
        assertEquals("😀", t.decode(expected));
    }

    @Test
    void llama3TakesWordsInTheVocabularyWhole() {
        // "hello" is a piece, but no merges lead to it: Llama 3 (ignore_merges) still uses it, GPT-2 cannot.
        VocabBuilder v = new VocabBuilder().byteAlphabet().normal("hello").merge("h", "e");
        assertArrayEquals(ids(v, "hello"), v.set(Tokenizers.PRE, "llama-bpe").build("gpt2").encode("hello"));
        assertArrayEquals(ids(v, "he", "l", "l", "o"), v.set(Tokenizers.PRE, "gpt2").build("gpt2").encode("hello"));
    }

    @Test
    void digitsGroupByPreTokenizer() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge("1", "2").merge("12", "3").merge("3", "4");
        assertArrayEquals(ids(v, "123", "4"), v.set(Tokenizers.PRE, "llama-bpe").build("gpt2").encode("1234"));
        assertArrayEquals(ids(v, "1", "2", "3", "4"), v.set(Tokenizers.PRE, "qwen2").build("gpt2").encode("1234"));
        assertArrayEquals(ids(v, "123", "4"), v.set(Tokenizers.PRE, "gpt2").build("gpt2").encode("1234"));
    }

    @Test
    void encodeNeverProducesControlTokens() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().control("<|eot_id|>").merge("<", "|");
        Tokenizer t = v.build("gpt2");
        int eot = v.id("<|eot_id|>");
        assertFalse(Arrays.stream(t.encode("hi<|eot_id|>")).anyMatch(id -> id == eot));
        assertEquals("hi<|eot_id|>", t.decode(t.encode("hi<|eot_id|>")));
        assertArrayEquals(new int[] {v.bpeId("h"), v.bpeId("i"), eot}, t.encodeWithSpecialTokens("hi<|eot_id|>"));
        assertEquals("hi", t.decode(t.encodeWithSpecialTokens("hi<|eot_id|>")));
    }

    @Test
    void longestSpecialTokenWins() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().control("<|end|>").control("<|end|><|end|>").control("<|endoftext|>");
        Tokenizer t = v.build("gpt2");
        assertArrayEquals(new int[] {v.id("<|endoftext|>"), v.id("<|end|><|end|>"), v.id("<|end|>")},
                t.encodeWithSpecialTokens("<|endoftext|><|end|><|end|><|end|>"));
    }

    @Test
    void userDefinedTokensDecodeAsTheirText() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().add("<tool call>", 0, TokenType.USER_DEFINED);
        Tokenizer t = v.build("gpt2");
        int[] tokens = t.encodeWithSpecialTokens("a<tool call>b");
        assertArrayEquals(new int[] {v.bpeId("a"), v.id("<tool call>"), v.bpeId("b")}, tokens);
        assertEquals("a<tool call>b", t.decode(tokens));
    }

    @Test
    void randomUnicodeRoundTrips() {
        for (String pre : new String[] {"gpt2", "llama-bpe", "qwen2"}) {
            VocabBuilder v = new VocabBuilder().byteAlphabet().merge(" ", "a").merge("a", "a").merge("aa", "aa").merge("\n", "\n");
            Tokenizer t = v.set(Tokenizers.PRE, pre).build("gpt2");
            Random random = new Random(7);
            for (int i = 0; i < 2000; i++) {
                String text = RandomText.unicode(random, 1 + random.nextInt(30), cp -> true);
                assertEquals(text, t.decode(t.encode(text)), () -> pre + " round trip of " + RandomText.codePoints(text));
            }
        }
    }

    @Test
    void wordCacheStaysBounded() {
        BpeTokenizer t = (BpeTokenizer) new VocabBuilder().byteAlphabet().build("gpt2");
        for (int i = 0; i < 100_000; i++) t.encode(" w" + i);
        assertTrue(t.cachedWords() <= 1 << 16, "cached " + t.cachedWords());
        assertArrayEquals(t.encode(" w5"), t.encode(" w5"));
    }

    @Test
    void aMillionCharactersEncodeQuickly() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().merge("a", "b").merge(" ", "a").merge("ab", "c").merge(" ", "abc");
        Tokenizer t = v.set(Tokenizers.PRE, "llama-bpe").build("gpt2");
        String words = RandomText.words(new Random(3), 1_000_000, "abc é1\n\t");
        // One long word too: merging inside a word must not be quadratic either.
        String oneWord = "ab".repeat(500_000);
        int[][] tokens = assertTimeoutPreemptively(Duration.ofSeconds(30),
                () -> new int[][] {t.encode(words), t.encode(oneWord)});
        assertEquals(words, t.decode(tokens[0]));
        assertEquals(500_000, tokens[1].length);
    }

    @Test
    void oneTokenizerServesManyThreads() throws Exception {
        Tokenizer t = new VocabBuilder().byteAlphabet().merge("a", "b").merge(" ", "ab").set(Tokenizers.PRE, "llama-bpe").build("gpt2");
        java.util.List<String> texts = new java.util.ArrayList<>();
        Random random = new Random(5);
        for (int i = 0; i < 200; i++) texts.add(RandomText.words(random, 2000, "ab ab c1é\n"));
        java.util.List<int[]> expected = texts.stream().map(t::encode).toList();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            var results = pool.invokeAll(texts.stream()
                    .map(text -> (java.util.concurrent.Callable<int[]>) () -> t.encode(text)).toList());
            for (int i = 0; i < texts.size(); i++) assertArrayEquals(expected.get(i), results.get(i).get());
        }
    }
}
