package cascadelm.bench.eval;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reading the pass key back from a model's answer: the first number in the answer. Single digits separated
 * by single spaces count as one number, because tokenizers that split digits make some models print
 * "6 8 0 1 2"; "1234 5678" is still the number 1234.
 */
public final class PasskeyScore {
    private static final Pattern NUMBER = Pattern.compile("\\d(?: \\d(?!\\d))+|\\d+");

    private PasskeyScore() {
    }

    /** The first number's digits, or "" when the answer has none. */
    public static String firstNumber(String answer) {
        Matcher m = NUMBER.matcher(answer);
        return m.find() ? m.group().replace(" ", "") : "";
    }

    /** True when the first number of the answer is exactly the key. */
    public static boolean correct(String answer, String key) {
        return firstNumber(answer).equals(key);
    }
}
