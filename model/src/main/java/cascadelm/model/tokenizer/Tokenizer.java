package cascadelm.model.tokenizer;

import java.util.Set;

/** Text to token ids and back, as the model file's vocabulary defines it. */
public interface Tokenizer {

    int vocabularySize();

    /**
     * Encodes plain text. Text that looks like a special token ("&lt;|eot_id|&gt;") is encoded as
     * ordinary text, so a document can never inject control tokens. Adds no BOS.
     */
    int[] encode(String text);

    /** Encodes text in which special tokens written literally (as in a chat template) become those tokens. */
    int[] encodeWithSpecialTokens(String text);

    /** The text of a token sequence; special and control tokens are rendered as nothing. */
    String decode(int[] tokens);

    /** A decoder for streaming: it never emits half of a UTF-8 character. */
    StreamingDecoder streamingDecoder();

    int bosToken();

    /** Whether prompts start with BOS (GGUF {@code tokenizer.ggml.add_bos_token}, with the model's default). */
    boolean addBos();

    /** Tokens that end generation: EOS, EOT and the like. */
    Set<Integer> stopTokens();

    /** Text of one token as stored in the vocabulary (for inspection and debugging). */
    String piece(int token);

    /** Turns tokens into text incrementally. */
    interface StreamingDecoder {
        /** Feeds one token; returns the text completed by it (possibly empty). */
        String accept(int token);

        /** Returns what is left (an incomplete UTF-8 sequence becomes U+FFFD). */
        String flush();
    }
}
