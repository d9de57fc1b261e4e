package cascadelm.model.corpus;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds fact-shaped sentences in a text and the key a question asks about, written apart from
 * {@link FactKind} on purpose: the tests check the generator's text against it, not against itself.
 */
final class FactScanner {
    /** A fact-shaped sentence found in a text, with its key and the span a question would ask for. */
    record Found(String key, String answer, int offset) {
    }

    private static final Pattern HID = Pattern.compile("([A-Z][a-z]+) hid the ([a-z]+ [a-z]+) ((?:under|behind|beside|near) the [a-z ]+)\\.");
    private static final Pattern LOST = Pattern.compile("([A-Z][a-z]+) lost the ([a-z]+ [a-z]+) ((?:at|in|on|by) the [a-z ]+)\\.");
    private static final Pattern GAVE = Pattern.compile("([A-Z][a-z]+) gave (the [a-z]+ [a-z]+) to ([A-Z][a-z]+)\\.");
    private static final Pattern BORN = Pattern.compile("([A-Z][a-z]+) was born in the [a-z]+ of ([A-Z][a-z]+)\\.");
    private static final Pattern COUNTED = Pattern.compile("The ([a-z ]+?) counted ([0-9]+) ([a-z]+) [a-z ]+\\.");
    /** Any use of a fact verb: each must be part of a sentence the patterns above recognise. */
    static final Pattern FACT_VERB = Pattern.compile("\\b(hid|hide|lost|lose|gave|give|born|counted)\\b");

    private static final Pattern Q_PLACE = Pattern.compile("Where did ([A-Z][a-z]+) (?:hide|lose) the ([a-z]+ [a-z]+)\\?");
    private static final Pattern Q_GAVE = Pattern.compile("What did ([A-Z][a-z]+) give to ([A-Z][a-z]+)\\?");
    private static final Pattern Q_BORN = Pattern.compile("Where was ([A-Z][a-z]+) born\\?");
    private static final Pattern Q_COUNT = Pattern.compile("How many ([a-z]+) did the ([a-z ]+) count\\?");

    private FactScanner() {
    }

    static List<Found> facts(String text) {
        List<Found> found = new ArrayList<>();
        for (Matcher m = HID.matcher(text); m.find(); ) found.add(new Found("place|" + m.group(1) + "|" + m.group(2), m.group(3), m.start()));
        for (Matcher m = LOST.matcher(text); m.find(); ) found.add(new Found("place|" + m.group(1) + "|" + m.group(2), m.group(3), m.start()));
        for (Matcher m = GAVE.matcher(text); m.find(); ) found.add(new Found("gave|" + m.group(1) + "|" + m.group(3), m.group(2), m.start()));
        for (Matcher m = BORN.matcher(text); m.find(); ) found.add(new Found("born|" + m.group(1), m.group(2), m.start()));
        for (Matcher m = COUNTED.matcher(text); m.find(); ) found.add(new Found("count|" + m.group(1) + "|" + m.group(3), m.group(2), m.start()));
        return found;
    }

    static long factVerbs(String text) {
        return FACT_VERB.matcher(text).results().count();
    }

    /** The key of the fact a question asks about, e.g. "place|Mira|silver key". */
    static String key(String question) {
        Matcher m;
        if ((m = Q_PLACE.matcher(question)).matches()) return "place|" + m.group(1) + "|" + m.group(2);
        if ((m = Q_GAVE.matcher(question)).matches()) return "gave|" + m.group(1) + "|" + m.group(2);
        if ((m = Q_BORN.matcher(question)).matches()) return "born|" + m.group(1);
        if ((m = Q_COUNT.matcher(question)).matches()) return "count|" + m.group(2) + "|" + m.group(1);
        throw new AssertionError("a question of no known form: " + question);
    }
}
