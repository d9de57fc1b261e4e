package cascadelm.bench.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Token counts as people write them: {@code 4k} = 4,096, {@code 1m} = 1,048,576, {@code 1500} = 1,500. */
public final class Lengths {
    private Lengths() {
    }

    /**
     * Parses a comma-separated list of lengths. {@code option} names the option in error messages.
     *
     * @throws IllegalArgumentException naming the option and the bad entry
     */
    public static List<Integer> parseList(String option, String text) {
        if (text == null || text.isBlank()) throw new IllegalArgumentException(option + " needs at least one length, e.g. 4k,8k");
        List<Integer> out = new ArrayList<>();
        for (String part : text.split(",")) {
            out.add(parse(option, part));
        }
        return out;
    }

    /** One length: digits with an optional k (×1024) or m (×1024²) suffix, at least 1. */
    public static int parse(String option, String text) {
        String s = text.strip().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (s.endsWith("k")) {
            unit = 1024;
            s = s.substring(0, s.length() - 1);
        } else if (s.endsWith("m")) {
            unit = 1024 * 1024;
            s = s.substring(0, s.length() - 1);
        }
        if (s.isEmpty() || !s.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException(option + ": '" + text.strip()
                    + "' is not a length (digits with an optional k or m, e.g. 4k, 1m, 1500)");
        }
        long value;
        try {
            value = Math.multiplyExact(Long.parseLong(s), unit);
        } catch (ArithmeticException | NumberFormatException e) {
            value = Long.MAX_VALUE;
        }
        if (value < 1) throw new IllegalArgumentException(option + ": '" + text.strip() + "' must be at least 1");
        if (value > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(option + ": '" + text.strip() + "' is too long (at most about 2,000m tokens)");
        }
        return (int) value;
    }

    /** The shortest way to write a length: 4096 → "4k", 1048576 → "1m", 1500 → "1500". */
    public static String format(long n) {
        if (n >= 1024 * 1024 && n % (1024 * 1024) == 0) return n / (1024 * 1024) + "m";
        if (n >= 1024 && n % 1024 == 0) return n / 1024 + "k";
        return Long.toString(n);
    }
}
