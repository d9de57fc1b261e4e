package cascadelm.model.tokenizer;

import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;

/** The token table of a model: text, score and type of every id. Validated by {@link Tokenizers}. */
final class Vocabulary {
    private final String[] pieces;
    private final float[] scores;
    private final TokenType[] types;

    Vocabulary(String[] pieces, float[] scores, TokenType[] types) {
        if (pieces.length != scores.length || pieces.length != types.length) {
            throw new IllegalArgumentException("pieces, scores and types differ in length");
        }
        this.pieces = pieces.clone();
        this.scores = scores.clone();
        this.types = types.clone();
    }

    int size() {
        return pieces.length;
    }

    String piece(int id) {
        return pieces[checked(id)];
    }

    float score(int id) {
        return scores[checked(id)];
    }

    TokenType type(int id) {
        return types[checked(id)];
    }

    /** The id of every piece of the given types; the first id wins when a text occurs twice. */
    Map<String, Integer> index(EnumSet<TokenType> ofTypes) {
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < pieces.length; i++) {
            if (ofTypes.contains(types[i])) ids.putIfAbsent(pieces[i], i);
        }
        return ids;
    }

    /** The id of the first piece with this text and type, or -1. */
    int find(String text, TokenType type) {
        for (int i = 0; i < pieces.length; i++) {
            if (types[i] == type && pieces[i].equals(text)) return i;
        }
        return -1;
    }

    private int checked(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token " + id + " is outside the vocabulary of " + pieces.length);
        }
        return id;
    }
}
