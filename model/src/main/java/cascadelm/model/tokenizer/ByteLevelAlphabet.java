package cascadelm.model.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * GPT-2's byte-to-unicode table: byte-level BPE vocabularies spell every byte as one printable
 * character (printable Latin-1 bytes as themselves, the rest as U+0100 onwards; a space is 'Ġ').
 */
final class ByteLevelAlphabet {
    private static final char[] CHAR_OF_BYTE = new char[256];
    private static final Map<Character, Integer> BYTE_OF_CHAR = new HashMap<>();

    static {
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            CHAR_OF_BYTE[b] = (char) (printable ? b : next++);
            BYTE_OF_CHAR.put(CHAR_OF_BYTE[b], b);
        }
    }

    private ByteLevelAlphabet() {}

    static char charOf(int unsignedByte) {
        return CHAR_OF_BYTE[unsignedByte];
    }

    /** The vocabulary spelling of a piece of text. */
    static String encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) sb.append(CHAR_OF_BYTE[b & 0xFF]);
        return sb.toString();
    }

    /** Appends the bytes a vocabulary piece spells; a char outside the alphabet stands for its own UTF-8. */
    static void decode(String piece, ByteArrayOutputStream out) {
        for (int i = 0; i < piece.length(); i++) {
            Integer b = BYTE_OF_CHAR.get(piece.charAt(i));
            if (b != null) {
                out.write(b);
            } else {
                int cp = piece.codePointAt(i);
                out.writeBytes(Character.toString(cp).getBytes(StandardCharsets.UTF_8));
                i += Character.charCount(cp) - 1;
            }
        }
    }
}
