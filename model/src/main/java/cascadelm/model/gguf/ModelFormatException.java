package cascadelm.model.gguf;

/**
 * A model file that cannot be used: malformed, truncated, hostile, or of an architecture or tensor type
 * this engine does not support. The message names the field (and, where known, its byte offset).
 */
public class ModelFormatException extends RuntimeException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }

    /** A message that names a field and the byte offset where it was read. */
    public static ModelFormatException at(String field, long offset, String problem) {
        return new ModelFormatException(field + " at offset " + offset + ": " + problem);
    }
}
