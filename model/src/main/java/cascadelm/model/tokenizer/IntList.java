package cascadelm.model.tokenizer;

import java.util.Arrays;

/** A growable int array, so encoding a long document does not box a million Integers. */
final class IntList {
    private int[] values = new int[16];
    private int size;

    void add(int value) {
        if (size == values.length) values = Arrays.copyOf(values, size * 2);
        values[size++] = value;
    }

    void addAll(int[] more) {
        for (int v : more) add(v);
    }

    int size() {
        return size;
    }

    int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
