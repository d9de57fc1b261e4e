package cascadelm.model.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SymbolMergerTest {
    // Symbols: 0 'a', 1 'b', 2 'ab', 3 'bb', 4 'aa'
    private static SymbolMerger merger(Map<Long, Long> table) {
        return new SymbolMerger((l, r) -> table.getOrDefault(SymbolMerger.PairTable.key(l, r), SymbolMerger.PairTable.NO_MERGE));
    }

    @Test
    void lowestRankMergesFirst() {
        SymbolMerger m = merger(Map.of(
                SymbolMerger.PairTable.key(0, 1), SymbolMerger.PairTable.of(1, 2),
                SymbolMerger.PairTable.key(1, 1), SymbolMerger.PairTable.of(0, 3)));
        // a b b: "bb" (rank 0) beats "ab" (rank 1) although "ab" is further left.
        assertArrayEquals(new int[] {0, 3}, m.merge(new int[] {0, 1, 1}));
    }

    @Test
    void equalRanksMergeLeftmostFirst() {
        SymbolMerger m = merger(Map.of(SymbolMerger.PairTable.key(0, 0), SymbolMerger.PairTable.of(0, 4)));
        assertArrayEquals(new int[] {4, 0}, m.merge(new int[] {0, 0, 0}));
        assertArrayEquals(new int[] {4, 4}, m.merge(new int[] {0, 0, 0, 0}));
    }

    @Test
    void mergedSymbolsMergeAgainWithTheirNewNeighbours() {
        // a a -> aa (id 4), then aa aa -> id 5
        SymbolMerger m = merger(Map.of(
                SymbolMerger.PairTable.key(0, 0), SymbolMerger.PairTable.of(0, 4),
                SymbolMerger.PairTable.key(4, 4), SymbolMerger.PairTable.of(1, 5)));
        assertArrayEquals(new int[] {5, 0}, m.merge(new int[] {0, 0, 0, 0, 0}));
    }

    @Test
    void workGrowsLinearlyWithInput() {
        // Worst case for rescanning: one long run where every pair can merge, level after level.
        Map<Long, Long> table = new java.util.HashMap<>();
        for (int level = 0; level < 20; level++) {
            table.put(SymbolMerger.PairTable.key(level, level), SymbolMerger.PairTable.of(level, level + 1));
        }
        int n = 1 << 20;
        SymbolMerger m = merger(table);
        int[] result = m.merge(new int[n]);
        assertArrayEquals(new int[] {20}, result);
        // Each merge queues at most two pairs, on top of the n - 1 initial ones.
        assertTrue(m.heapPushes() <= 3L * n, "heap pushes " + m.heapPushes());
    }
}
