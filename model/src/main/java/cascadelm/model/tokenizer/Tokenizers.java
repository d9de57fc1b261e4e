package cascadelm.model.tokenizer;

import cascadelm.model.gguf.Metadata;
import cascadelm.model.gguf.ModelFormatException;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Builds the tokenizer a GGUF file describes, with the keys llama.cpp writes, and checks them. */
public final class Tokenizers {
    static final String MODEL = "tokenizer.ggml.model";
    static final String PRE = "tokenizer.ggml.pre";
    static final String TOKENS = "tokenizer.ggml.tokens";
    static final String SCORES = "tokenizer.ggml.scores";
    static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    static final String MERGES = "tokenizer.ggml.merges";
    static final String BOS = "tokenizer.ggml.bos_token_id";
    static final String EOS = "tokenizer.ggml.eos_token_id";
    static final String UNKNOWN = "tokenizer.ggml.unknown_token_id";
    static final String EOT = "tokenizer.ggml.eot_token_id";
    static final String ADD_BOS = "tokenizer.ggml.add_bos_token";
    static final String ADD_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix";

    /** Control tokens that end a turn in common chat formats, even where the file names no EOT. */
    private static final List<String> END_OF_TURN_TEXTS = List.of("<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>");

    private static final Map<String, PreTokenizer> PRE_TOKENIZERS = Map.of(
            "default", PreTokenizer.GPT2,
            "gpt2", PreTokenizer.GPT2,
            "gpt-2", PreTokenizer.GPT2,
            "llama3", PreTokenizer.LLAMA3,
            "llama-v3", PreTokenizer.LLAMA3,
            "llama-bpe", PreTokenizer.LLAMA3,
            "qwen2", PreTokenizer.QWEN2);

    private Tokenizers() {}

    public static Tokenizer fromMetadata(Metadata m) {
        String model = m.string(MODEL);
        return switch (model) {
            case "llama" -> sentencePiece(m);
            case "gpt2" -> bytePairEncoding(m);
            default -> throw new ModelFormatException("metadata " + MODEL + ": tokenizer \"" + model
                    + "\" is not supported (supported: \"llama\" SentencePiece, \"gpt2\" byte-level BPE)");
        };
    }

    private static SentencePieceTokenizer sentencePiece(Metadata m) {
        Vocabulary vocabulary = vocabulary(m);
        // Without the keys, llama.cpp takes Llama's ids: <unk> 0, <s> 1, </s> 2.
        int bos = tokenId(m, BOS, vocabulary, 1);
        int eos = tokenId(m, EOS, vocabulary, 2);
        int unknown = tokenId(m, UNKNOWN, vocabulary, 0);
        boolean addBos = m.bool(ADD_BOS, true);
        return new SentencePieceTokenizer(vocabulary, specialIds(m, vocabulary, bos, eos, unknown, addBos),
                m.bool(ADD_SPACE_PREFIX, true));
    }

    private static BpeTokenizer bytePairEncoding(Metadata m) {
        PreTokenizer pre = preTokenizer(m.string(PRE, "default"));
        Vocabulary vocabulary = vocabulary(m);
        int bos = tokenId(m, BOS, vocabulary, -1);
        int eos = tokenId(m, EOS, vocabulary, -1);
        int unknown = tokenId(m, UNKNOWN, vocabulary, -1);
        boolean addBos = m.bool(ADD_BOS, false);
        return new BpeTokenizer(vocabulary, specialIds(m, vocabulary, bos, eos, unknown, addBos), pre, merges(m, vocabulary));
    }

    private static PreTokenizer preTokenizer(String name) {
        PreTokenizer pre = PRE_TOKENIZERS.get(name);
        if (pre == null) {
            // A wrong split changes every token id silently, so an unknown one is an error, not a guess.
            throw new ModelFormatException("metadata " + PRE + ": pre-tokenizer \"" + name
                    + "\" is not supported (supported: " + String.join(", ", PRE_TOKENIZERS.keySet().stream().sorted().toList()) + ")");
        }
        return pre;
    }

    private static Vocabulary vocabulary(Metadata m) {
        String[] tokens = m.strings(TOKENS);
        if (tokens.length == 0) throw new ModelFormatException("metadata " + TOKENS + " is empty");
        int n = tokens.length;

        float[] scores = new float[n];
        if (m.has(SCORES)) {
            double[] values = m.numbers(SCORES);
            checkLength(SCORES, values.length, n);
            for (int i = 0; i < n; i++) scores[i] = (float) values[i];
        }

        TokenType[] types = new TokenType[n];
        Arrays.fill(types, TokenType.NORMAL);
        if (m.has(TOKEN_TYPE)) {
            long[] codes = m.integers(TOKEN_TYPE);
            checkLength(TOKEN_TYPE, codes.length, n);
            for (int i = 0; i < n; i++) {
                types[i] = TokenType.ofCode(codes[i]);
                if (types[i] == null) {
                    throw new ModelFormatException("metadata " + TOKEN_TYPE + "[" + i + "]: " + codes[i]
                            + " is not a token type (1 to 6)");
                }
            }
        }
        return new Vocabulary(tokens, scores, types);
    }

    private static void checkLength(String key, int length, int tokens) {
        if (length != tokens) {
            throw new ModelFormatException("metadata " + key + " has " + length + " entries but " + TOKENS
                    + " has " + tokens);
        }
    }

    private static int tokenId(Metadata m, String key, Vocabulary vocabulary, int fallback) {
        if (!m.has(key)) return fallback < vocabulary.size() ? fallback : -1;
        long id = m.integer(key);
        if (id < 0 || id >= vocabulary.size()) {
            throw new ModelFormatException("metadata " + key + ": token " + id + " is outside the vocabulary of "
                    + vocabulary.size());
        }
        return (int) id;
    }

    private static VocabularyTokenizer.SpecialIds specialIds(Metadata m, Vocabulary vocabulary, int bos, int eos,
            int unknown, boolean addBos) {
        if (addBos && bos < 0) {
            throw new ModelFormatException("metadata " + ADD_BOS + " asks for BOS but " + BOS + " is missing");
        }
        Set<Integer> stops = new LinkedHashSet<>();
        if (eos >= 0) stops.add(eos);
        int eot = tokenId(m, EOT, vocabulary, -1);
        if (eot >= 0) stops.add(eot);
        for (String text : END_OF_TURN_TEXTS) {
            int id = vocabulary.find(text, TokenType.CONTROL);
            if (id >= 0) stops.add(id);
        }
        return new VocabularyTokenizer.SpecialIds(bos, eos, unknown, addBos, stops);
    }

    /** Merge ranks by token-id pair; every part and result must be a token. */
    private static Map<Long, Long> merges(Metadata m, Vocabulary vocabulary) {
        String[] merges = m.strings(MERGES);
        // Merges spell vocabulary pieces; where a text is also a special token, the normal piece is meant.
        Map<String, Integer> ids = vocabulary.index(EnumSet.of(TokenType.NORMAL));
        vocabulary.index(EnumSet.allOf(TokenType.class)).forEach(ids::putIfAbsent);
        Map<Long, Long> table = new HashMap<>(merges.length * 2);
        for (int rank = 0; rank < merges.length; rank++) {
            String merge = merges[rank];
            // Searching from 1, as llama.cpp does, keeps a first part that is itself a space.
            int space = merge.indexOf(' ', 1);
            if (space < 0) {
                throw new ModelFormatException("metadata " + MERGES + "[" + rank + "]: \"" + merge
                        + "\" is not two tokens separated by a space");
            }
            String left = merge.substring(0, space);
            String right = merge.substring(space + 1);
            int leftId = mergePart(ids, left, rank, merge);
            int rightId = mergePart(ids, right, rank, merge);
            int mergedId = mergePart(ids, left + right, rank, merge);
            table.putIfAbsent(SymbolMerger.PairTable.key(leftId, rightId), SymbolMerger.PairTable.of(rank, mergedId));
        }
        return table;
    }

    private static int mergePart(Map<String, Integer> ids, String part, int rank, String merge) {
        Integer id = ids.get(part);
        if (id == null) {
            throw new ModelFormatException("metadata " + MERGES + "[" + rank + "]: \"" + merge + "\" refers to \""
                    + part + "\", which is not in " + TOKENS);
        }
        return id;
    }
}
