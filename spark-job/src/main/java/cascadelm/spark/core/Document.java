package cascadelm.spark.core;

import java.io.Serializable;

/**
 * One input document. {@code problem} says why the text cannot be used (unreadable file, not UTF-8)
 * when the reader already knows; the document then yields error rows instead of being dropped.
 */
public record Document(String docId, String title, String text, String problem) implements Serializable {
    public static Document of(String docId, String text) {
        return new Document(docId, null, text, null);
    }
}
