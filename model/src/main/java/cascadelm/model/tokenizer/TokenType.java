package cascadelm.model.tokenizer;

/** The kind of a vocabulary entry, with the codes of GGUF {@code tokenizer.ggml.token_type} (as SentencePiece numbers them). */
public enum TokenType {
    NORMAL(1),
    UNKNOWN(2),
    /** Structural tokens (BOS, EOS, chat markers): never produced from plain text, rendered as nothing. */
    CONTROL(3),
    /** Added tokens matched by their literal text. */
    USER_DEFINED(4),
    UNUSED(5),
    /** {@code <0xXX>}: one raw byte, for characters missing from a SentencePiece vocabulary. */
    BYTE(6);

    final int code;

    TokenType(int code) {
        this.code = code;
    }

    /** The type with this code, or null when the code is not one of the six. */
    static TokenType ofCode(long code) {
        for (TokenType t : values()) {
            if (t.code == code) return t;
        }
        return null;
    }
}
