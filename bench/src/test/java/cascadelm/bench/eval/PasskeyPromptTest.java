package cascadelm.bench.eval;

import cascadelm.model.generate.Prompts;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.tokenizer.Tokenizer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PasskeyPromptTest {

    @ParameterizedTest
    @CsvSource({"llama3-bpe.F32.gguf, 1024", "llama3-bpe.F32.gguf, 4096", "llama-spm.F32.gguf, 3000",
            "qwen2-bpe.F32.gguf, 2048"})
    void lengthIsWithinOnePercentOfTheTarget(String file, int target) throws Exception {
        try (LlamaModel model = LlamaModel.open(Fixtures.model(file))) {
            PasskeyPrompt p = PasskeyPrompt.build(model.tokenizer(), target, 0.5, "68012");
            assertTrue(Math.abs(p.tokens().length - target) <= target / 100,
                    file + ": " + p.tokens().length + " tokens for a target of " + target);
            assertTrue(p.text().endsWith("What is the pass key? The pass key is"), p.text());
        }
    }

    @ParameterizedTest
    @CsvSource({"0.0", "0.1", "0.25", "0.5", "0.9", "1.0"})
    void keySitsAtTheRequestedDepthWithinOneSentence(double depth) throws Exception {
        try (LlamaModel model = LlamaModel.open(Fixtures.model("llama3-bpe.F32.gguf"))) {
            Tokenizer tokenizer = model.tokenizer();
            PasskeyPrompt p = PasskeyPrompt.build(tokenizer, 2048, depth, "68012");
            String text = p.text();
            int at = text.indexOf("The pass key is 68012.");
            assertTrue(at > 0, "the key sentence is in the prompt");
            assertEquals(at, text.lastIndexOf("The pass key is 68012."), "exactly once");

            // Counted in the text: filler sentences before the key over all of them.
            int before = countFiller(text.substring(0, at));
            int all = countFiller(text);
            assertEquals(p.fillerSentences(), all);
            assertTrue(Math.abs(before - depth * all) <= 1, before + " of " + all + " sentences before the key at depth " + depth);

            // Counted in tokens: the share of filler tokens before the key, within one sentence's tokens.
            int taskTokens = Prompts.plain(tokenizer, PasskeyPrompt.TASK).length;
            int keyAndQuestion = Prompts.plain(tokenizer, PasskeyPrompt.keySentence("68012") + " " + PasskeyPrompt.QUESTION).length;
            int fillerTokens = p.tokens().length - taskTokens - keyAndQuestion;
            int fillerBefore = Prompts.plain(tokenizer, text.substring(0, at)).length - taskTokens;
            double slack = (PasskeyPrompt.tokensPerSentence(tokenizer) + 2) / fillerTokens;
            assertTrue(Math.abs((double) fillerBefore / fillerTokens - depth) <= slack,
                    fillerBefore + " of " + fillerTokens + " filler tokens before the key at depth " + depth);
        }
    }

    @Test
    void keysAreFiveDigitsAndRepeatableFromTheSeed() {
        String k = PasskeyEval.key(42, 4096, 3, 0);
        assertTrue(k.matches("[1-9][0-9]{4}"), k);
        assertEquals(k, PasskeyEval.key(42, 4096, 3, 0));
        assertNotEquals(k, PasskeyEval.key(43, 4096, 3, 0));
        assertNotEquals(k, PasskeyEval.key(42, 4096, 3, 1));
    }

    @Test
    void depthsAreACountOrAList() {
        assertEquals(List.of(0.0, 0.25, 0.5, 0.75, 1.0), PasskeyEval.depths("--depths", "5"));
        assertEquals(List.of(0.5), PasskeyEval.depths("--depths", "1"));
        assertEquals(List.of(0.1, 0.9), PasskeyEval.depths("--depths", "0.1, 0.9"));
        for (String bad : new String[]{"0", "1.5", "x", "0.1,,0.2"}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                    IllegalArgumentException.class, () -> PasskeyEval.depths("--depths", bad), bad);
            assertTrue(e.getMessage().startsWith("--depths"), e.getMessage());
        }
    }

    private static int countFiller(String text) {
        int n = 0;
        for (String s : PasskeyPrompt.FILLER) {
            for (int i = text.indexOf(s); i >= 0; i = text.indexOf(s, i + 1)) n++;
        }
        return n;
    }
}
