package cascadelm.spark.core;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Cuts the documents of a run into batches that are processed and committed one after the other, so that a
 * run killed part way (the driver lost, the job cancelled) keeps every batch committed before; --resume then
 * does only the rest. Longest documents first, as {@link TokenBalancer} places them, so each batch holds
 * documents of similar size and balances well over its partitions.
 */
public final class CommitBatches {
    /** Estimated tokens per core in an automatic batch: minutes of work on a CPU, so little is lost to a kill. */
    static final long AUTO_TOKENS_PER_CORE = 1L << 20;
    /** At most this many documents per core in an automatic batch, however short they are. */
    static final int AUTO_DOCUMENTS_PER_CORE = 64;

    private CommitBatches() {
    }

    /**
     * @param documentsPerBatch the documents of a batch, or 0 for automatic batches (about
     *                          {@value #AUTO_TOKENS_PER_CORE} estimated tokens and at most
     *                          {@value #AUTO_DOCUMENTS_PER_CORE} documents per core)
     * @param cores             the cores the job runs on (Spark's default parallelism)
     */
    public static List<List<TokenBalancer.Cost>> split(List<TokenBalancer.Cost> costs, int documentsPerBatch, int cores) {
        if (documentsPerBatch < 0) throw new IllegalArgumentException("documents per batch must be 0 (automatic) or more, got " + documentsPerBatch);
        List<TokenBalancer.Cost> sorted = new ArrayList<>(costs);
        sorted.sort(Comparator.comparingLong(TokenBalancer.Cost::tokens).reversed().thenComparing(TokenBalancer.Cost::docId));
        int maxDocuments = documentsPerBatch > 0 ? documentsPerBatch : AUTO_DOCUMENTS_PER_CORE * Math.max(1, cores);
        long maxTokens = documentsPerBatch > 0 ? Long.MAX_VALUE : AUTO_TOKENS_PER_CORE * Math.max(1, cores);
        List<List<TokenBalancer.Cost>> batches = new ArrayList<>();
        List<TokenBalancer.Cost> current = new ArrayList<>();
        long tokens = 0;
        for (TokenBalancer.Cost c : sorted) {
            if (!current.isEmpty() && (current.size() >= maxDocuments || tokens + c.tokens() > maxTokens)) {
                batches.add(current);
                current = new ArrayList<>();
                tokens = 0;
            }
            current.add(c);
            tokens += c.tokens();
        }
        if (!current.isEmpty()) batches.add(current);
        return batches;
    }
}
