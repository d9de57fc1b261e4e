package cascadelm.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * SentencePiece BPE as Llama 2 uses it (and llama.cpp implements it): spaces become '▁' with one added
 * in front, characters are the starting symbols, and the adjacent pair whose concatenation is a piece
 * with the highest score merges first (leftmost on ties). A character missing from the vocabulary
 * becomes its UTF-8 bytes as {@code <0xXX>} tokens.
 *
 * <p>As in SentencePiece, merges only form normal and user-defined pieces, so plain text never turns
 * into control, byte or unused tokens. Characters missing from the vocabulary take no part in merges:
 * a trained SentencePiece vocabulary has no piece containing a character that is not itself a piece.
 */
public final class SentencePieceTokenizer extends VocabularyTokenizer {
    static final char SPACE = '\u2581';
    private static final byte[] UNKNOWN_SURFACE = " \u2047 ".getBytes(StandardCharsets.UTF_8);

    private final boolean addSpacePrefix;
    private final Map<Integer, Integer> codePointIds = new HashMap<>();
    /** Packed (left id, right id) to the packed merge: built from the pieces, as a piece is a concatenation. */
    private final Map<Long, Long> merges = new HashMap<>();
    private final SymbolMerger.PairTable pairs;
    private final int[] byteTokens = new int[256];
    private final int[] byteValues;

    SentencePieceTokenizer(Vocabulary vocabulary, SpecialIds specialIds, boolean addSpacePrefix) {
        super(vocabulary, specialIds);
        this.addSpacePrefix = addSpacePrefix;
        Map<String, Integer> ids = vocabulary.index(EnumSet.of(TokenType.NORMAL, TokenType.USER_DEFINED));
        int[] rankOfScore = scoreRanks(vocabulary);
        for (Map.Entry<String, Integer> e : ids.entrySet()) {
            String text = e.getKey();
            int id = e.getValue();
            if (text.codePointCount(0, text.length()) == 1) codePointIds.put(text.codePointAt(0), id);
            for (int cut = text.offsetByCodePoints(0, 1); cut < text.length(); cut = text.offsetByCodePoints(cut, 1)) {
                Integer left = ids.get(text.substring(0, cut));
                Integer right = ids.get(text.substring(cut));
                if (left != null && right != null) {
                    merges.put(SymbolMerger.PairTable.key(left, right), SymbolMerger.PairTable.of(rankOfScore[id], id));
                }
            }
        }
        pairs = (left, right) -> left < 0 || right < 0
                ? SymbolMerger.PairTable.NO_MERGE
                : merges.getOrDefault(SymbolMerger.PairTable.key(left, right), SymbolMerger.PairTable.NO_MERGE);

        byteValues = new int[vocabulary.size()];
        Arrays.fill(byteTokens, -1);
        Arrays.fill(byteValues, -1);
        for (int id = 0; id < vocabulary.size(); id++) {
            int value = byteValue(vocabulary.piece(id));
            if (value >= 0 && vocabulary.type(id) == TokenType.BYTE) {
                byteValues[id] = value;
                if (byteTokens[value] < 0) byteTokens[value] = id;
            }
        }
    }

    /** Rank 0 for the highest score; equal scores share a rank, so ties go to the leftmost pair. */
    private static int[] scoreRanks(Vocabulary vocabulary) {
        TreeSet<Float> distinct = new TreeSet<>();
        for (int id = 0; id < vocabulary.size(); id++) distinct.add(vocabulary.score(id));
        Map<Float, Integer> rank = new HashMap<>();
        for (Float score : distinct.descendingSet()) rank.put(score, rank.size());
        int[] ranks = new int[vocabulary.size()];
        for (int id = 0; id < vocabulary.size(); id++) ranks[id] = rank.get(vocabulary.score(id));
        return ranks;
    }

    /** 0..255 for a piece spelled {@code <0xXX>}, else -1. */
    private static int byteValue(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') return -1;
        try {
            return Integer.parseInt(piece.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @Override
    void encodeText(String text, boolean startsText, IntList out) {
        // llama.cpp adds the dummy prefix to every stretch that begins the text or follows a special token.
        String normalized = (addSpacePrefix && startsText ? " " + text : text).replace(' ', SPACE);
        int[] symbols = normalized.codePoints()
                .map(cp -> codePointIds.getOrDefault(cp, -1 - cp))
                .toArray();
        for (int symbol : new SymbolMerger(pairs).merge(symbols)) {
            if (symbol >= 0) {
                out.add(symbol);
            } else {
                appendByteFallback(-1 - symbol, out);
            }
        }
    }

    private void appendByteFallback(int codePoint, IntList out) {
        for (byte b : Character.toString(codePoint).getBytes(StandardCharsets.UTF_8)) {
            int token = byteTokens[b & 0xFF];
            if (token < 0) token = unknownToken();
            if (token < 0) {
                throw new IllegalArgumentException("vocabulary has neither the character U+"
                        + Integer.toHexString(codePoint).toUpperCase() + ", its bytes nor an unknown token");
            }
            out.add(token);
        }
    }

    @Override
    void appendBytes(int token, boolean startOfText, ByteArrayOutputStream out) {
        switch (vocabulary.type(token)) {
            case CONTROL, UNUSED -> { }
            case UNKNOWN -> out.writeBytes(UNKNOWN_SURFACE);
            case BYTE -> {
                if (byteValues[token] >= 0) {
                    out.write(byteValues[token]);
                } else {
                    appendText(vocabulary.piece(token), startOfText, out);
                }
            }
            case NORMAL, USER_DEFINED -> appendText(vocabulary.piece(token), startOfText, out);
        }
    }

    private void appendText(String piece, boolean startOfText, ByteArrayOutputStream out) {
        String text = piece.replace(SPACE, ' ');
        // Undo the space that encoding put in front of the text.
        if (startOfText && addSpacePrefix && text.startsWith(" ")) text = text.substring(1);
        out.writeBytes(text.getBytes(StandardCharsets.UTF_8));
    }
}
