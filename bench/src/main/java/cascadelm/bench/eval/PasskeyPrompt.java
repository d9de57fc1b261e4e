package cascadelm.bench.eval;

import cascadelm.model.generate.Prompts;
import cascadelm.model.tokenizer.Tokenizer;

import java.util.List;

/**
 * The classic passkey-retrieval prompt (Mohtashami and Jaggi's landmark-attention test, used by the cascading
 * cache paper §7): a short task description, filler sentences, "The pass key is NNNNN. Remember it. NNNNN is
 * the pass key." placed after a given fraction of the filler, more filler, then the question. The filler is
 * sized so the whole prompt is about {@code targetTokens} long for the model's own tokenizer.
 *
 * @param text            the prompt text (without BOS)
 * @param tokens          the prompt as the model reads it (BOS first when the model wants one)
 * @param key             the five digits to retrieve
 * @param depth           requested place of the key in the filler, 0 = first, 1 = last
 * @param fillerSentences filler sentences in the prompt
 * @param keySentence     filler sentences before the key
 */
public record PasskeyPrompt(String text, int[] tokens, String key, double depth, int fillerSentences, int keySentence) {

    static final String TASK = "There is an important info hidden inside a lot of irrelevant text. "
            + "Find it and memorize it. I will quiz you about the important information there.";
    static final List<String> FILLER = List.of("The grass is green.", "The sky is blue.", "The sun is yellow.",
            "Here we go.", "There and back again.");
    static final String QUESTION = "What is the pass key? The pass key is";

    static String keySentence(String key) {
        return "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
    }

    /** The prompt for one trial; the filler count is corrected until the length is within 1% of the target. */
    public static PasskeyPrompt build(Tokenizer tokenizer, int targetTokens, double depth, String key) {
        if (!(depth >= 0 && depth <= 1)) throw new IllegalArgumentException("depth must be in [0, 1], got " + depth);
        if (!key.matches("[0-9]{5}")) throw new IllegalArgumentException("the pass key must be 5 digits, got " + key);
        double perSentence = tokensPerSentence(tokenizer);
        int fixed = Prompts.plain(tokenizer, TASK + " " + keySentence(key) + " " + QUESTION).length;
        int n = Math.max(0, (int) Math.round((targetTokens - fixed) / perSentence));
        PasskeyPrompt p = make(tokenizer, n, depth, key);
        // Token counts are not exactly additive across sentence boundaries; a few corrections settle it.
        for (int i = 0; i < 4 && Math.abs(p.tokens.length - targetTokens) > targetTokens / 100; i++) {
            n = Math.max(0, n + (int) Math.round((targetTokens - p.tokens.length) / perSentence));
            p = make(tokenizer, n, depth, key);
        }
        return p;
    }

    private static PasskeyPrompt make(Tokenizer tokenizer, int n, double depth, String key) {
        int before = (int) Math.round(depth * n);
        StringBuilder sb = new StringBuilder(n * 20 + 300).append(TASK);
        for (int i = 0; i < n; i++) {
            if (i == before) sb.append(' ').append(keySentence(key));
            sb.append(' ').append(FILLER.get(i % FILLER.size()));
        }
        if (before == n) sb.append(' ').append(keySentence(key));
        sb.append(' ').append(QUESTION);
        String text = sb.toString();
        return new PasskeyPrompt(text, Prompts.plain(tokenizer, text), key, depth, n, before);
    }

    /** Mean tokens per filler sentence in running text (measured over a few cycles, not one sentence alone). */
    static double tokensPerSentence(Tokenizer tokenizer) {
        int cycles = 8;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < cycles * FILLER.size(); i++) sb.append(' ').append(FILLER.get(i % FILLER.size()));
        return (double) tokenizer.encode(sb.toString()).length / (cycles * FILLER.size());
    }
}
