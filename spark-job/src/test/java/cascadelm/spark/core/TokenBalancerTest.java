package cascadelm.spark.core;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenBalancerTest {
    @Test
    void aBookLongerThanTheRestSitsAloneInItsPartition() {
        List<TokenBalancer.Cost> costs = new ArrayList<>();
        costs.add(new TokenBalancer.Cost("book", 1_000_000));
        for (int i = 0; i < 20; i++) costs.add(new TokenBalancer.Cost("short-" + i, 10_000 + i));
        Map<String, Integer> a = TokenBalancer.assign(costs, 4);
        int book = a.get("book");
        assertTrue(a.entrySet().stream().noneMatch(e -> !e.getKey().equals("book") && e.getValue() == book));
    }

    @Test
    void partitionsCarrySimilarTokenCounts() {
        List<TokenBalancer.Cost> costs = new ArrayList<>();
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        for (int i = 0; i < 200; i++) costs.add(new TokenBalancer.Cost("d" + i, 1_000 + r.nextInt(50_000)));
        Map<String, Integer> a = TokenBalancer.assign(costs, 8);
        long[] load = new long[8];
        for (TokenBalancer.Cost c : costs) load[a.get(c.docId())] += c.tokens();
        long max = java.util.Arrays.stream(load).max().orElseThrow(), min = java.util.Arrays.stream(load).min().orElseThrow();
        assertTrue(max - min <= 50_000, "max " + max + " min " + min);
        assertEquals(a, TokenBalancer.assign(costs.reversed(), 8), "the same corpus gets the same layout");
    }

    @Test
    void defaultPartitionsNeverExceedTheDocuments() {
        assertEquals(3, TokenBalancer.defaultPartitions(List.of(new TokenBalancer.Cost("a", 1), new TokenBalancer.Cost("b", 1),
                new TokenBalancer.Cost("c", 1)), 8));
        assertEquals(1, TokenBalancer.defaultPartitions(List.of(), 8));
    }
}
