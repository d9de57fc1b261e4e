package cascadelm.model.corpus;

import java.util.ArrayList;
import java.util.List;

/**
 * A sentence with slots, compiled once: {@code "{N} walked to {P} {T}."}. Slots are one upper-case letter in
 * braces; {@link Slots} fills them. Compiling up front keeps generation to appends, which is what makes
 * 100M words a matter of seconds.
 */
final class SentenceTemplate {
    private final String[] literals; // literals[i] precedes slots[i]; the last literal ends the sentence
    private final char[] slots;

    private SentenceTemplate(String[] literals, char[] slots) {
        this.literals = literals;
        this.slots = slots;
    }

    static SentenceTemplate compile(String template) {
        List<String> literals = new ArrayList<>();
        StringBuilder slots = new StringBuilder();
        int from = 0;
        for (int open = template.indexOf('{'); open >= 0; open = template.indexOf('{', from)) {
            if (open + 2 >= template.length() || template.charAt(open + 2) != '}'
                    || !Character.isUpperCase(template.charAt(open + 1))) {
                throw new IllegalArgumentException("bad slot at " + open + " in: " + template);
            }
            literals.add(template.substring(from, open));
            slots.append(template.charAt(open + 1));
            from = open + 3;
        }
        literals.add(template.substring(from));
        return new SentenceTemplate(literals.toArray(String[]::new), slots.toString().toCharArray());
    }

    static List<SentenceTemplate> compileAll(List<String> templates) {
        return templates.stream().map(SentenceTemplate::compile).toList();
    }

    /** Appends the sentence with its first letter capitalised (a slot may open it: "the baker waved"). */
    void appendTo(StringBuilder out, Slots slotValues) {
        appendTo(out, slotValues, true);
    }

    /** Appends the sentence, capitalised or as written (a clause to go after "In chapter 3, "). */
    void appendTo(StringBuilder out, Slots slotValues, boolean capitalize) {
        int start = out.length();
        slotValues.newSentence();
        for (int i = 0; i < slots.length; i++) {
            out.append(literals[i]).append(slotValues.value(slots[i]));
        }
        out.append(literals[slots.length]);
        if (capitalize && out.length() > start) out.setCharAt(start, Character.toUpperCase(out.charAt(start)));
    }

    /** What fills the slots of one sentence; a letter repeated in a sentence gets the same value. */
    interface Slots {
        void newSentence();

        String value(char slot);
    }
}
