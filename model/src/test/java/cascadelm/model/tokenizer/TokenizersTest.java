package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import cascadelm.model.gguf.MapMetadata;
import cascadelm.model.gguf.ModelFormatException;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TokenizersTest {

    private static VocabBuilder llama() {
        return new VocabBuilder().add("<unk>", 0, TokenType.UNKNOWN).control("<s>").control("</s>").normal("\u2581a", -1);
    }

    private static String failure(MapMetadata m) {
        return assertThrows(ModelFormatException.class, () -> Tokenizers.fromMetadata(m)).getMessage();
    }

    private static MapMetadata with(MapMetadata m, String key, Object value) {
        Map<String, Object> copy = new HashMap<>(m.asMap());
        copy.put(key, value);
        return new MapMetadata(copy);
    }

    @Test
    void picksTheTokenizerByModelName() {
        assertInstanceOf(SentencePieceTokenizer.class, llama().build("llama"));
        BpeTokenizer bpe = assertInstanceOf(BpeTokenizer.class, new VocabBuilder().byteAlphabet().build("gpt2"));
        assertEquals(PreTokenizer.GPT2, bpe.preTokenizer());
    }

    @Test
    void unsupportedModelIsNamed() {
        String message = failure(llama().metadata("bert"));
        assertTrue(message.contains("tokenizer.ggml.model") && message.contains("bert"), message);
    }

    @Test
    void preTokenizerNamesMapToTheirRegex() {
        VocabBuilder v = new VocabBuilder().byteAlphabet();
        assertEquals(PreTokenizer.LLAMA3, ((BpeTokenizer) v.set(Tokenizers.PRE, "llama-bpe").build("gpt2")).preTokenizer());
        assertEquals(PreTokenizer.LLAMA3, ((BpeTokenizer) v.set(Tokenizers.PRE, "llama3").build("gpt2")).preTokenizer());
        assertEquals(PreTokenizer.QWEN2, ((BpeTokenizer) v.set(Tokenizers.PRE, "qwen2").build("gpt2")).preTokenizer());
        assertEquals(PreTokenizer.GPT2, ((BpeTokenizer) v.set(Tokenizers.PRE, "default").build("gpt2")).preTokenizer());
    }

    @Test
    void unknownPreTokenizerIsAnErrorListingTheSupportedOnes() {
        String message = failure(new VocabBuilder().byteAlphabet().set(Tokenizers.PRE, "deepseek-coder").metadata("gpt2"));
        assertTrue(message.contains("tokenizer.ggml.pre") && message.contains("deepseek-coder")
                && message.contains("llama-bpe") && message.contains("qwen2"), message);
    }

    @Test
    void arraysOfAnotherLengthNameTheirKey() {
        MapMetadata m = llama().metadata("llama");
        assertTrue(failure(with(m, Tokenizers.SCORES, new double[] {0, 0})).contains("tokenizer.ggml.scores"));
        assertTrue(failure(with(m, Tokenizers.TOKEN_TYPE, new long[] {1})).contains("tokenizer.ggml.token_type"));
    }

    @Test
    void tokenTypesOutsideOneToSixAreRejected() {
        String message = failure(with(llama().metadata("llama"), Tokenizers.TOKEN_TYPE, new long[] {2, 3, 3, 9}));
        assertTrue(message.contains("tokenizer.ggml.token_type[3]") && message.contains("9"), message);
    }

    @Test
    void tokenIdsOutOfRangeNameTheirKey() {
        MapMetadata m = llama().metadata("llama");
        assertTrue(failure(with(m, Tokenizers.BOS, 4L)).contains("tokenizer.ggml.bos_token_id"));
        assertTrue(failure(with(m, Tokenizers.EOS, -1L)).contains("tokenizer.ggml.eos_token_id"));
        assertTrue(failure(with(m, Tokenizers.EOT, 99L)).contains("tokenizer.ggml.eot_token_id"));
    }

    @Test
    void mergesMustReferToKnownTokens() {
        VocabBuilder v = new VocabBuilder().byteAlphabet();
        MapMetadata m = with(v.metadata("gpt2"), Tokenizers.MERGES, new String[] {"a b", "x zz"});
        String message = failure(m);
        assertTrue(message.contains("tokenizer.ggml.merges[0]") && message.contains("\"ab\""), message);
        assertTrue(failure(with(v.metadata("gpt2"), Tokenizers.MERGES, new String[] {"ab"})).contains("tokenizer.ggml.merges[0]"));
        assertTrue(failure(new MapMetadata(Map.of(Tokenizers.MODEL, "gpt2", Tokenizers.TOKENS, new String[] {"a"})))
                .contains("tokenizer.ggml.merges"));
    }

    @Test
    void byteLevelVocabularyMissingAByteIsRejectedAtLoad() {
        // Found by ModelFileFuzzTest: it loaded, then encoding text with a '2' threw IllegalArgumentException.
        VocabBuilder partial = new VocabBuilder();
        for (int b = 0; b < 256; b++) {
            if (b != '2') partial.normal(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        String message = failure(partial.metadata("gpt2"));
        assertTrue(message.contains("tokenizer.ggml.tokens") && message.contains("0x32")
                && message.contains("tokenizer.ggml.unknown_token_id"), message);
        // With an unknown token the byte becomes that token.
        partial.control("<unk>");
        Tokenizer t = partial.set(Tokenizers.UNKNOWN, (long) partial.id("<unk>")).build("gpt2");
        assertEquals(partial.id("<unk>"), t.encode("2")[0]);
    }

    @Test
    void bosIsAddedByDefaultForSentencePieceOnly() {
        assertTrue(llama().build("llama").addBos());
        assertEquals(1, llama().build("llama").bosToken());
        assertFalse(new VocabBuilder().byteAlphabet().build("gpt2").addBos());
        assertTrue(new VocabBuilder().byteAlphabet().set(Tokenizers.BOS, 3L).set(Tokenizers.ADD_BOS, true).build("gpt2").addBos());
        assertFalse(llama().set(Tokenizers.ADD_BOS, false).build("llama").addBos());
    }

    @Test
    void addingBosWithoutABosTokenIsAnError() {
        String message = failure(new VocabBuilder().byteAlphabet().set(Tokenizers.ADD_BOS, true).metadata("gpt2"));
        assertTrue(message.contains("tokenizer.ggml.bos_token_id"), message);
    }

    @Test
    void stopTokensAreEosEotAndKnownEndOfTurnMarkers() {
        VocabBuilder v = new VocabBuilder().byteAlphabet().control("<|end_of_text|>").control("<|eot_id|>")
                .control("<|eom_id|>").normal("<|im_end|>");
        v.set(Tokenizers.EOS, (long) v.id("<|end_of_text|>")).set(Tokenizers.EOT, (long) v.id("<|eom_id|>"));
        // A normal piece that happens to read "<|im_end|>" is text, not a stop.
        assertEquals(Set.of(v.id("<|end_of_text|>"), v.id("<|eot_id|>"), v.id("<|eom_id|>")), v.build("gpt2").stopTokens());
    }
}
