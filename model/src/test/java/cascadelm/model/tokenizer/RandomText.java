package cascadelm.model.tokenizer;

import java.util.List;
import java.util.Random;
import java.util.function.IntPredicate;

/** Random strings for round-trip tests, mixing scripts, whitespace and 4-byte characters. */
final class RandomText {
    private static final int[][] RANGES = {
        {0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x400, 0x44F}, {0x3000, 0x30FF}, {0x4E00, 0x4FFF},
        {0x2000, 0x206F}, {0x1F300, 0x1F64F}, {0x10000, 0x1003F}, {0x20, 0x20},
    };

    private RandomText() {}

    /** A string of {@code length} code points (never a lone surrogate) that {@code allowed} accepts. */
    static String unicode(Random random, int length, IntPredicate allowed) {
        StringBuilder sb = new StringBuilder();
        while (sb.codePointCount(0, sb.length()) < length) {
            int[] range = RANGES[random.nextInt(RANGES.length)];
            int cp = range[0] + random.nextInt(range[1] - range[0] + 1);
            if (allowed.test(cp)) sb.appendCodePoint(cp);
        }
        return sb.toString();
    }

    /** About {@code chars} characters of words drawn from the characters of {@code alphabet}. */
    static String words(Random random, int chars, String alphabet) {
        StringBuilder sb = new StringBuilder(chars + 16);
        while (sb.length() < chars) {
            sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    static List<String> codePoints(String text) {
        return text.codePoints().mapToObj(cp -> "U+" + Integer.toHexString(cp).toUpperCase()).toList();
    }
}
