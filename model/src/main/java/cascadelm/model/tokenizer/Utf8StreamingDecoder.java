package cascadelm.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Renders tokens as they are generated. A character can be split over several tokens (byte-fallback
 * tokens, byte-level BPE), so bytes of an unfinished UTF-8 sequence are held back until it completes.
 */
final class Utf8StreamingDecoder implements Tokenizer.StreamingDecoder {
    private final VocabularyTokenizer tokenizer;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private boolean firstToken = true;
    /**
     * A stream usually continues a prompt, so its first piece keeps its leading space; only a stream that
     * starts with BOS starts the text, where SentencePiece drops the space it added in front.
     */
    private boolean startOfText;

    Utf8StreamingDecoder(VocabularyTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    @Override
    public String accept(int token) {
        if (firstToken) {
            firstToken = false;
            startOfText = token == tokenizer.bosToken();
        }
        tokenizer.appendBytes(token, startOfText, pending);
        if (tokenizer.rendersText(token)) startOfText = false;

        byte[] bytes = pending.toByteArray();
        int complete = completePrefix(bytes);
        pending.reset();
        pending.write(bytes, complete, bytes.length - complete);
        return new String(bytes, 0, complete, StandardCharsets.UTF_8);
    }

    @Override
    public String flush() {
        // Whatever is left can never complete: the decoder turns it into U+FFFD.
        String rest = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return rest;
    }

    /**
     * The length of the longest prefix that does not end inside an unfinished UTF-8 sequence. Malformed
     * bytes are not held back (the String decoder replaces them), so nothing waits forever.
     */
    static int completePrefix(byte[] bytes) {
        int n = bytes.length;
        // A sequence is at most 4 bytes, so an unfinished one starts within the last 3.
        for (int back = 1; back <= Math.min(3, n); back++) {
            int b = bytes[n - back] & 0xFF;
            if ((b & 0xC0) == 0x80) continue;
            int length = b >= 0xF8 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
            return back < length ? n - back : n;
        }
        return n;
    }
}
