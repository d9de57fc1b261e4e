package cascadelm.model.tokenizer;

import cascadelm.model.gguf.ModelFormatException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Byte-level BPE as GPT-2, Llama 3 and Qwen2 use it: the pre-tokenizer splits text into words, each
 * word's UTF-8 bytes are spelled in GPT-2's byte alphabet, and the merges apply lowest rank first.
 * Every byte is a token (checked at load, unless the file names an unknown token), so nothing is ever unknown.
 */
public final class BpeTokenizer extends VocabularyTokenizer {
    /** Words repeat a lot in text; longer ones rarely do and would bloat the cache. */
    private static final int CACHED_WORD_LENGTH = 64;
    private static final int CACHE_ENTRIES = 1 << 16;

    private final PreTokenizer preTokenizer;
    private final Map<String, Integer> ids;
    /** Packed (left id, right id) to the packed (rank, merged id). */
    private final Map<Long, Long> merges;
    private final SymbolMerger.PairTable pairs;
    private final int[] byteTokens = new int[256];
    /** Shared by threads (a Spark executor encodes partitions in parallel), hence concurrent. */
    private final Map<String, int[]> wordCache = new ConcurrentHashMap<>();

    /**
     * @param merges packed (left id, right id) to {@link SymbolMerger.PairTable#of}(rank, merged id)
     */
    BpeTokenizer(Vocabulary vocabulary, SpecialIds specialIds, PreTokenizer preTokenizer, Map<Long, Long> merges) {
        super(vocabulary, specialIds);
        this.preTokenizer = preTokenizer;
        this.ids = vocabulary.index(EnumSet.of(TokenType.NORMAL));
        this.merges = Map.copyOf(merges);
        this.pairs = (left, right) -> this.merges.getOrDefault(SymbolMerger.PairTable.key(left, right), SymbolMerger.PairTable.NO_MERGE);
        for (int b = 0; b < 256; b++) {
            byteTokens[b] = ids.getOrDefault(String.valueOf(ByteLevelAlphabet.charOf(b)), -1);
            // Checked here, not when a document happens to contain the byte: a model that cannot spell
            // some text is a bad model file, not a failure of that one document.
            if (byteTokens[b] < 0 && unknownToken() < 0) {
                throw new ModelFormatException("metadata " + Tokenizers.TOKENS + ": no normal token for byte 0x"
                        + String.format("%02X", b) + " (\"" + ByteLevelAlphabet.charOf(b) + "\") and no "
                        + Tokenizers.UNKNOWN + ": byte-level BPE must be able to spell every byte");
            }
        }
    }

    public PreTokenizer preTokenizer() {
        return preTokenizer;
    }

    @Override
    void encodeText(String text, boolean startsText, IntList out) {
        for (String word : preTokenizer.split(text)) {
            out.addAll(encodeWord(word));
        }
    }

    private int[] encodeWord(String word) {
        if (word.length() > CACHED_WORD_LENGTH) return mergeWord(word);
        int[] cached = wordCache.get(word);
        if (cached != null) return cached;
        int[] tokens = mergeWord(word);
        if (wordCache.size() >= CACHE_ENTRIES) wordCache.clear();
        wordCache.put(word, tokens);
        return tokens;
    }

    private int[] mergeWord(String word) {
        if (preTokenizer.ignoresMerges()) {
            Integer whole = ids.get(ByteLevelAlphabet.encode(word));
            if (whole != null) return new int[] {whole};
        }
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        int[] symbols = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            symbols[i] = byteTokens[bytes[i] & 0xFF];
            if (symbols[i] < 0) symbols[i] = unknownToken();  // there is one: see the constructor
        }
        return new SymbolMerger(pairs).merge(symbols);
    }

    @Override
    void appendBytes(int token, boolean startOfText, ByteArrayOutputStream out) {
        switch (vocabulary.type(token)) {
            case CONTROL, UNUSED -> { }
            // Added tokens are stored as their text, not in the byte alphabet.
            case USER_DEFINED, UNKNOWN -> out.writeBytes(vocabulary.piece(token).getBytes(StandardCharsets.UTF_8));
            case NORMAL, BYTE -> ByteLevelAlphabet.decode(vocabulary.piece(token), out);
        }
    }

    /** How many words are cached (for tests of the cache bound). */
    int cachedWords() {
        return wordCache.size();
    }

    @Override
    public String toString() {
        return "BpeTokenizer[" + preTokenizer + ", " + vocabulary.size() + " tokens, " + merges.size() + " merges]";
    }
}
