package cascadelm.model.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads little-endian GGUF fields from a mapped file, checking every read against the bytes that are
 * left, so that a truncated or hostile file ends in a {@link ModelFormatException} naming the field and
 * its offset, never in an IndexOutOfBoundsException or a huge allocation.
 */
final class GgufCursor {
    /** Longest string we accept: far above any real token, key or chat template, far below the heap. */
    static final int MAX_STRING_BYTES = 1 << 24;
    /**
     * Array elements the whole header may hold. A vocabulary of 262k tokens with scores, types and merges
     * is about a million; the cap keeps a hostile file (an element costs the file as little as one byte
     * but the heap up to ~40) from exhausting the heap.
     */
    static final int MAX_ARRAY_ELEMENTS = 1 << 24;

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment file;
    // REPORT, not the default REPLACE: a damaged name must not silently become another name.
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private long pos;
    private long arrayElementsLeft = MAX_ARRAY_ELEMENTS;

    GgufCursor(MemorySegment file) {
        this.file = file;
    }

    long position() {
        return pos;
    }

    long remaining() {
        return file.byteSize() - pos;
    }

    private void require(long bytes, String field) {
        if (bytes > remaining()) throw truncated(field, bytes);
    }

    private ModelFormatException truncated(String field, long bytes) {
        return ModelFormatException.at(field, pos, "needs " + bytes + " bytes but the file ends "
                + remaining() + " bytes later (truncated?)");
    }

    byte u8(String field) {
        require(1, field);
        return file.get(ValueLayout.JAVA_BYTE, pos++);
    }

    short u16(String field) {
        require(2, field);
        short v = file.get(U16, pos);
        pos += 2;
        return v;
    }

    int u32(String field) {
        require(4, field);
        int v = file.get(U32, pos);
        pos += 4;
        return v;
    }

    long u64(String field) {
        require(8, field);
        long v = file.get(U64, pos);
        pos += 8;
        return v;
    }

    /**
     * A uint64 count of items that each take at least {@code minBytes}: a count the rest of the file
     * cannot hold is rejected before anything is allocated for it.
     */
    long count(String field, long minBytes) {
        long at = pos;
        long n = u64(field);
        if (n < 0 || n > remaining() / minBytes) {
            throw ModelFormatException.at(field, at, Long.toUnsignedString(n) + " items of at least " + minBytes
                    + " bytes cannot fit in the " + remaining() + " bytes left in the file");
        }
        return n;
    }

    /**
     * The element count of an array: fits in the rest of the file (see {@link #count}) and in what is left
     * of the header's element budget, which it uses up.
     */
    int arrayLength(String field, long minBytes) {
        long at = pos;
        long n = count(field, minBytes);
        if (n > arrayElementsLeft) {
            throw ModelFormatException.at(field, at, n + " elements would exceed the limit of " + MAX_ARRAY_ELEMENTS
                    + " array elements in all metadata");
        }
        arrayElementsLeft -= n;
        return (int) n;
    }

    /** A GGUF string: uint64 byte length, then that many bytes of UTF-8. */
    String string(String field) {
        return string(field, -1);
    }

    /** Element {@code index} of the array {@code field}; the field's name is built only for an error. */
    String string(String field, int index) {
        long at = pos;
        if (remaining() < 8) {
            throw truncated(element(field, index) + " length", 8);
        }
        long len = file.get(U64, pos);
        pos += 8;
        if (len < 0 || len > remaining()) {
            throw ModelFormatException.at(element(field, index), at, "string length " + Long.toUnsignedString(len)
                    + " is more than the " + remaining() + " bytes left in the file");
        }
        if (len > MAX_STRING_BYTES) {
            throw ModelFormatException.at(element(field, index), at, "string length " + len
                    + " is over the limit of " + MAX_STRING_BYTES + " bytes");
        }
        MemorySegment bytes = file.asSlice(pos, len);
        String s;
        try {
            s = utf8.decode(bytes.asByteBuffer()).toString();
        } catch (CharacterCodingException e) {
            throw ModelFormatException.at(element(field, index), pos, "is not valid UTF-8: \"" + preview(bytes) + "\"");
        }
        pos += len;
        return s;
    }

    private static String element(String field, int index) {
        return index < 0 ? field : field + "[" + index + "]";
    }

    /** A short, lossy rendering of bad bytes for an error message. */
    private static String preview(MemorySegment bytes) {
        byte[] head = bytes.asSlice(0, Math.min(bytes.byteSize(), 60)).toArray(ValueLayout.JAVA_BYTE);
        return new String(head, StandardCharsets.UTF_8) + (bytes.byteSize() > head.length ? "…" : "");
    }
}
