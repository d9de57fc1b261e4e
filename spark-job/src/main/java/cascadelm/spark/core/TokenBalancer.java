package cascadelm.spark.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Spreads documents over partitions so that partitions carry similar token counts: the longest documents
 * first, each onto the partition with the least work so far (LPT scheduling, within 4/3 of the best
 * possible makespan). A book longer than the average partition ends up alone in its own.
 */
public final class TokenBalancer {
    private TokenBalancer() {
    }

    public record Cost(String docId, long tokens) implements java.io.Serializable {
    }

    /** Partition index per doc_id, every index in [0, partitions). */
    public static Map<String, Integer> assign(List<Cost> costs, int partitions) {
        if (partitions < 1) throw new IllegalArgumentException("partitions must be at least 1, got " + partitions);
        List<Cost> sorted = new ArrayList<>(costs);
        // Ties by doc_id so that the same corpus always gets the same layout.
        sorted.sort(Comparator.comparingLong(Cost::tokens).reversed().thenComparing(Cost::docId));
        PriorityQueue<long[]> load = new PriorityQueue<>(Comparator.<long[]>comparingLong(a -> a[0]).thenComparingLong(a -> a[1]));
        for (int p = 0; p < partitions; p++) load.add(new long[]{0, p});
        Map<String, Integer> out = new HashMap<>();
        for (Cost c : sorted) {
            long[] lightest = load.poll();
            out.put(c.docId(), (int) lightest[1]);
            lightest[0] += Math.max(1, c.tokens());
            load.add(lightest);
        }
        return out;
    }

    /**
     * The default partition count: enough for every core to have work and for the largest document to sit
     * alone, never more than there are documents.
     */
    public static int defaultPartitions(List<Cost> costs, int parallelism) {
        if (costs.isEmpty()) return 1;
        long total = 0, largest = 0;
        for (Cost c : costs) {
            total += c.tokens();
            largest = Math.max(largest, c.tokens());
        }
        long bySize = largest == 0 ? 1 : (total + largest - 1) / largest;
        long n = Math.max(parallelism * 2L, Math.min(bySize, parallelism * 4L));
        return (int) Math.max(1, Math.min(n, costs.size()));
    }
}
