package cascadelm.model.tokenizer;

import java.util.Arrays;

/**
 * The merge loop shared by SentencePiece BPE and byte-level BPE: repeatedly merge the adjacent pair of
 * symbols with the best (lowest) rank, the leftmost one on ties, until no adjacent pair merges.
 *
 * <p>Symbols live in a linked list over arrays and candidate pairs in a heap keyed by (rank, left
 * position), so a sequence of n symbols costs O(n log n) rather than rescanning all pairs after every
 * merge: a document can be a million symbols long. Heap entries are not removed when a merge changes
 * their neighbourhood; a popped entry is checked against the pair now at its position instead.
 *
 * <p>One merger per sequence: tokenizers are shared between threads, the merger is not.
 */
final class SymbolMerger {

    /** What two adjacent symbols merge into. */
    interface PairTable {
        /** {@link #merge(int, int)} when the pair never merges. */
        long NO_MERGE = -1;

        /** The result of merging, packed by {@link #of}, or {@link #NO_MERGE}. */
        long merge(int left, int right);

        /** A pair of adjacent symbols as one map key. */
        static long key(int left, int right) {
            return ((long) left << 32) | (right & 0xFFFF_FFFFL);
        }

        /** Packs a merge: lower ranks merge first; rank is in [0, 2^31). */
        static long of(int rank, int merged) {
            return ((long) rank << 32) | (merged & 0xFFFF_FFFFL);
        }

        static int rank(long merge) {
            return (int) (merge >>> 32);
        }

        static int merged(long merge) {
            return (int) merge;
        }
    }

    private final PairTable table;
    private long heapPushes;

    SymbolMerger(PairTable table) {
        this.table = table;
    }

    /** Heap entries pushed so far: the work done, for tests that the loop stays O(n log n). */
    long heapPushes() {
        return heapPushes;
    }

    int[] merge(int[] symbols) {
        int n = symbols.length;
        if (n < 2) return symbols.clone();
        int[] id = symbols.clone();
        int[] prev = new int[n];
        int[] next = new int[n];
        boolean[] gone = new boolean[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap candidates = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) offer(candidates, id, i, i + 1);

        int alive = n;
        while (!candidates.isEmpty()) {
            long entry = candidates.poll();
            int left = (int) entry;
            int right = next[left];
            if (gone[left] || right < 0) continue;
            long merge = table.merge(id[left], id[right]);
            // A stale entry: the pair at this position changed since it was queued.
            if (merge == PairTable.NO_MERGE || PairTable.rank(merge) != (int) (entry >>> 32)) continue;

            id[left] = PairTable.merged(merge);
            gone[right] = true;
            alive--;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            if (prev[left] >= 0) offer(candidates, id, prev[left], left);
            if (next[left] >= 0) offer(candidates, id, left, next[left]);
        }

        int[] result = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) result[k++] = id[i];
        return result;
    }

    private void offer(LongHeap candidates, int[] id, int left, int right) {
        long merge = table.merge(id[left], id[right]);
        if (merge != PairTable.NO_MERGE) {
            candidates.add(((long) PairTable.rank(merge) << 32) | left);
            heapPushes++;
        }
    }

    /** A binary min-heap of longs (no boxing: it can hold millions of entries). */
    private static final class LongHeap {
        private long[] heap;
        private int size;

        LongHeap(int capacity) {
            heap = new long[Math.max(capacity, 4)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void add(long value) {
            if (size == heap.length) heap = Arrays.copyOf(heap, size * 2);
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (heap[parent] <= value) break;
                heap[i] = heap[parent];
                i = parent;
            }
            heap[i] = value;
        }

        long poll() {
            long top = heap[0];
            long last = heap[--size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) break;
                if (child + 1 < size && heap[child + 1] < heap[child]) child++;
                if (heap[child] >= last) break;
                heap[i] = heap[child];
                i = child;
            }
            heap[i] = last;
            return top;
        }
    }
}
