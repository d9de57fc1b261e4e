package cascadelm.spark.core;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommitBatchesTest {
    private static List<TokenBalancer.Cost> costs(long... tokens) {
        List<TokenBalancer.Cost> c = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) c.add(new TokenBalancer.Cost("d" + i, tokens[i]));
        return c;
    }

    @Test
    void fixedSizeBatchesTakeTheLongestDocumentsFirstAndHoldEveryDocumentOnce() {
        List<List<TokenBalancer.Cost>> b = CommitBatches.split(costs(5, 50, 1, 40, 3), 2, 8);
        assertEquals(List.of(List.of("d1", "d3"), List.of("d0", "d4"), List.of("d2")),
                b.stream().map(x -> x.stream().map(TokenBalancer.Cost::docId).toList()).toList());
    }

    @Test
    void automaticBatchesCloseAtTheTokenBudgetOrTheDocumentCountPerCore() {
        long perCore = CommitBatches.AUTO_TOKENS_PER_CORE;
        // Two cores: a budget of two cores' tokens; a book over the budget sits alone.
        List<List<TokenBalancer.Cost>> b = CommitBatches.split(costs(3 * perCore, perCore, perCore, perCore / 2), 0, 2);
        assertEquals(List.of(1, 2, 1), b.stream().map(List::size).toList());
        long[] many = new long[CommitBatches.AUTO_DOCUMENTS_PER_CORE * 2 + 1];
        java.util.Arrays.fill(many, 10);
        List<List<TokenBalancer.Cost>> small = CommitBatches.split(costs(many), 0, 1);
        assertEquals(List.of(CommitBatches.AUTO_DOCUMENTS_PER_CORE, CommitBatches.AUTO_DOCUMENTS_PER_CORE, 1),
                small.stream().map(List::size).toList());
    }

    @Test
    void noDocumentsNoBatchesAndANegativeSizeIsRefused() {
        assertTrue(CommitBatches.split(List.of(), 0, 4).isEmpty());
        assertThrows(IllegalArgumentException.class, () -> CommitBatches.split(costs(1), -1, 4));
    }
}
