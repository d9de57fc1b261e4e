package cascadelm.model.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The regular expression that splits text into words before byte-level BPE (BPE never merges across
 * words). The expressions are written as Hugging Face tokenizers has them; they run there on
 * Oniguruma, where {@code \s} is Unicode whitespace, but in Java {@code \s} is ASCII only, and
 * UNICODE_CHARACTER_CLASS would change {@code \p{L}} and the rest too, so only {@code \s}/{@code \S}
 * are translated (to the White_Space property).
 */
public enum PreTokenizer {
    GPT2("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", false),
    /** Llama 3 splits numbers into runs of at most 3 digits, and whole words in the vocabulary skip merging. */
    LLAMA3("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
            + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", true),
    /** Qwen2 is Llama 3 with every digit a word of its own. */
    QWEN2("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
            + "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", false);

    private final Pattern pattern;
    private final boolean ignoreMerges;

    PreTokenizer(String huggingFaceRegex, boolean ignoreMerges) {
        this.pattern = Pattern.compile(toJava(huggingFaceRegex));
        this.ignoreMerges = ignoreMerges;
    }

    static String toJava(String regex) {
        // (?iu): Oniguruma's case-insensitivity is Unicode-aware (it folds 'ſ' to 's'); Java's needs the u flag.
        return regex.replace("\\s", "\\p{IsWhite_Space}")
                .replace("\\S", "\\P{IsWhite_Space}")
                .replace("(?i:", "(?iu:");
    }

    /** Whether a word that is itself in the vocabulary is taken whole (Hugging Face's ignore_merges). */
    boolean ignoresMerges() {
        return ignoreMerges;
    }

    /** The words of a text, in order; together they are the whole text. */
    List<String> split(String text) {
        List<String> words = new ArrayList<>();
        Matcher m = pattern.matcher(text);
        int end = 0;
        while (m.find()) {
            // The expressions match every character, but a gap would be a word of its own, as in Hugging Face.
            if (m.start() > end) words.add(text.substring(end, m.start()));
            if (m.end() > m.start()) words.add(m.group());
            end = m.end();
        }
        if (end < text.length()) words.add(text.substring(end));
        return words;
    }
}
