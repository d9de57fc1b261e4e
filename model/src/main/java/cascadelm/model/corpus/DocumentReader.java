package cascadelm.model.corpus;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;

/**
 * The text of a document as a {@link Reader}, generated as it is read, so the JSON writer can stream it
 * into the "text" field without the document ever being one string; every block read is also written to
 * {@code copy} when there is one (the plain-text file).
 */
final class DocumentReader extends Reader {
    private final DocumentBuilder builder;
    private final Writer copy;
    private StringBuilder block = new StringBuilder();
    private int position;

    DocumentReader(DocumentBuilder builder, Writer copy) {
        this.builder = builder;
        this.copy = copy;
    }

    @Override
    public int read(char[] buffer, int offset, int length) throws IOException {
        if (length == 0) return 0;
        while (position == block.length()) {
            block = builder.nextBlock();
            position = 0;
            if (block == null) {
                block = new StringBuilder();
                return -1;
            }
            if (copy != null) copy.append(block);
        }
        int n = Math.min(length, block.length() - position);
        block.getChars(position, position + n, buffer, offset);
        position += n;
        return n;
    }

    @Override
    public void close() {
        // The builder holds no resources and the copy belongs to the caller.
    }
}
