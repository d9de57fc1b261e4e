package cascadelm.model.tokenizer;

import cascadelm.model.gguf.MapMetadata;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Hand-built vocabularies as GGUF metadata, for tests. */
final class VocabBuilder {
    private final List<String> pieces = new ArrayList<>();
    private final List<Double> scores = new ArrayList<>();
    private final List<Long> types = new ArrayList<>();
    private final List<String> merges = new ArrayList<>();
    private final Map<String, Object> extra = new HashMap<>();

    VocabBuilder add(String piece, double score, TokenType type) {
        pieces.add(piece);
        scores.add(score);
        types.add((long) type.code);
        return this;
    }

    VocabBuilder normal(String piece, double score) {
        return add(piece, score, TokenType.NORMAL);
    }

    VocabBuilder normal(String... pieces) {
        for (String p : pieces) normal(p, 0);
        return this;
    }

    VocabBuilder control(String piece) {
        return add(piece, 0, TokenType.CONTROL);
    }

    /** The 256 byte-fallback tokens {@code <0x00>}..{@code <0xFF>}. */
    VocabBuilder byteTokens() {
        for (int b = 0; b < 256; b++) add(String.format("<0x%02X>", b), 0, TokenType.BYTE);
        return this;
    }

    /** The 256 single characters of GPT-2's byte alphabet, as byte-level BPE vocabularies start. */
    VocabBuilder byteAlphabet() {
        for (int b = 0; b < 256; b++) normal(String.valueOf(ByteLevelAlphabet.charOf(b)), 0);
        return this;
    }

    /** A merge of two byte-level pieces (given as plain text), adding the merged piece. */
    VocabBuilder merge(String left, String right) {
        String l = ByteLevelAlphabet.encode(left);
        String r = ByteLevelAlphabet.encode(right);
        merges.add(l + " " + r);
        if (!pieces.contains(l + r)) normal(l + r, 0);
        return this;
    }

    VocabBuilder set(String key, Object value) {
        extra.put(key, value);
        return this;
    }

    int id(String piece) {
        int id = pieces.indexOf(piece);
        if (id < 0) throw new IllegalArgumentException("no piece " + piece);
        return id;
    }

    /** The id of a byte-level piece given as plain text. */
    int bpeId(String text) {
        return id(ByteLevelAlphabet.encode(text));
    }

    MapMetadata metadata(String model) {
        Map<String, Object> m = new HashMap<>();
        m.put(Tokenizers.MODEL, model);
        m.put(Tokenizers.TOKENS, pieces.toArray(String[]::new));
        m.put(Tokenizers.SCORES, scores.stream().mapToDouble(Double::doubleValue).toArray());
        m.put(Tokenizers.TOKEN_TYPE, types.stream().mapToLong(Long::longValue).toArray());
        if (model.equals("gpt2")) m.put(Tokenizers.MERGES, merges.toArray(String[]::new));
        m.putAll(extra);
        return new MapMetadata(m);
    }

    Tokenizer build(String model) {
        return Tokenizers.fromMetadata(metadata(model));
    }
}
