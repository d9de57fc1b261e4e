package cascadelm.model.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds control and user-defined tokens written literally in text (as a chat template writes
 * "&lt;|im_start|&gt;"), longest match first, so "&lt;|end|&gt;" does not win over "&lt;|endoftext|&gt;".
 */
final class SpecialTokens {

    /** Receives the text between special tokens and the tokens themselves, in order. */
    interface Sink {
        void text(String fragment);

        void token(int id);
    }

    private record Special(String text, int id) {}

    /** Candidates by their first char, longest first, so a scan tests few at each position. */
    private final Map<Character, List<Special>> byFirstChar = new HashMap<>();

    SpecialTokens(Vocabulary vocabulary) {
        Set<String> seen = new HashSet<>();
        for (int id = 0; id < vocabulary.size(); id++) {
            TokenType type = vocabulary.type(id);
            String text = vocabulary.piece(id);
            if ((type == TokenType.CONTROL || type == TokenType.USER_DEFINED) && !text.isEmpty() && seen.add(text)) {
                byFirstChar.computeIfAbsent(text.charAt(0), c -> new ArrayList<>()).add(new Special(text, id));
            }
        }
        for (List<Special> candidates : byFirstChar.values()) {
            candidates.sort(Comparator.comparingInt((Special s) -> s.text.length()).reversed());
        }
    }

    void split(String text, Sink sink) {
        int fragmentStart = 0;
        int i = 0;
        while (i < text.length()) {
            Special match = matchAt(text, i);
            if (match == null) {
                i++;
                continue;
            }
            if (i > fragmentStart) sink.text(text.substring(fragmentStart, i));
            sink.token(match.id);
            i += match.text.length();
            fragmentStart = i;
        }
        if (fragmentStart < text.length()) sink.text(text.substring(fragmentStart));
    }

    private Special matchAt(String text, int i) {
        List<Special> candidates = byFirstChar.get(text.charAt(i));
        if (candidates == null) return null;
        for (Special s : candidates) {
            if (text.startsWith(s.text, i)) return s;
        }
        return null;
    }
}
