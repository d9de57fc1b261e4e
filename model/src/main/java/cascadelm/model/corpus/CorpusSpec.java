package cascadelm.model.corpus;

import java.util.List;

/**
 * What to generate. Document sizes are counted in words (maximal runs of non-whitespace characters; at
 * about 0.75 words per token, 150K words is about 200K tokens). Without {@code sizes}, each document's
 * target is drawn log-uniformly from [minWords, maxWords], so a 2K…1.5M range gives as many short books
 * as long ones per decade.
 *
 * @param factsPerDoc planted facts (with questions) per document; 0 draws 3 to 6 per document
 * @param sizes       explicit per-document word targets (the sample preset); empty to draw them
 * @param factDepth   planted facts go in the first {@code factDepth} of each document (a fraction in
 *                    (0, {@value #MAX_FACT_DEPTH}]); early facts give long fact-to-question distances
 */
public record CorpusSpec(long seed, int documents, long minWords, long maxWords, int factsPerDoc,
                         boolean textFiles, List<Long> sizes, double factDepth) {
    /** Below this a document has no room for a chapter, its facts and an ending. */
    public static final long MIN_WORDS = 500;
    public static final int MAX_FACTS = 50;
    /** Nothing is planted in the last 5%, which the closing paragraph may take. */
    public static final double MAX_FACT_DEPTH = 0.95;

    public CorpusSpec {
        sizes = List.copyOf(sizes);
        if (!(factDepth > 0 && factDepth <= MAX_FACT_DEPTH)) {
            throw new IllegalArgumentException("factDepth must be in (0, " + MAX_FACT_DEPTH + "]: " + factDepth);
        }
        if (documents < 1) throw new IllegalArgumentException("documents must be at least 1: " + documents);
        if (minWords < MIN_WORDS) throw new IllegalArgumentException("minWords must be at least " + MIN_WORDS);
        if (maxWords < minWords) throw new IllegalArgumentException("maxWords < minWords");
        if (factsPerDoc < 0 || factsPerDoc > MAX_FACTS) {
            throw new IllegalArgumentException("factsPerDoc must be in 0.." + MAX_FACTS);
        }
        if (!sizes.isEmpty() && sizes.size() != documents) {
            throw new IllegalArgumentException("sizes must name one size per document");
        }
    }

    /** Random sizes in [minWords, maxWords]. */
    public static CorpusSpec of(long seed, int documents, long minWords, long maxWords, int factsPerDoc,
                                boolean textFiles) {
        return of(seed, documents, minWords, maxWords, factsPerDoc, textFiles, MAX_FACT_DEPTH);
    }

    /** Random sizes in [minWords, maxWords], planted facts only in the first {@code factDepth} of each document. */
    public static CorpusSpec of(long seed, int documents, long minWords, long maxWords, int factsPerDoc,
                                boolean textFiles, double factDepth) {
        return new CorpusSpec(seed, documents, minWords, maxWords, factsPerDoc, textFiles, List.of(), factDepth);
    }

    /** The committed sample, sample-data/corpus: about 3K, 10K, 30K, 60K words and one of 160K words
     * (over 200K tokens), 3 to 6 questions each, with text files. */
    public static CorpusSpec sample() {
        List<Long> sizes = List.of(3_000L, 10_000L, 30_000L, 60_000L, 160_000L);
        return new CorpusSpec(20261124L, sizes.size(), sizes.getFirst(), sizes.getLast(), 0, true, sizes, MAX_FACT_DEPTH);
    }
}
