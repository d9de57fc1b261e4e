package cascadelm.spark.core;

/** Whether a document's text can be read by the model at all. */
final class TextCheck {
    private TextCheck() {
    }

    /** Why the text is unusable, or null when it is fine. */
    static String problem(String text) {
        if (text == null) return "the document has no text";
        if (text.isBlank()) return "the document is empty (only white space)";
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                // Unpaired halves come from broken encodings upstream; the tokenizer would mangle them silently.
                return "the text is not valid Unicode (unpaired surrogate at character " + i + ")";
            } else if (c == 0) {
                return "the text contains NUL characters (a binary file?)";
            }
        }
        return null;
    }
}
