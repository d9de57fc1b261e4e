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
 */
public record CorpusSpec(long seed, int documents, long minWords, long maxWords, int factsPerDoc,
                         boolean textFiles, List<Long> sizes) {
    /** Below this a document has no room for a chapter, its facts and an ending. */
    public static final long MIN_WORDS = 500;
    public static final int MAX_FACTS = 50;

    public CorpusSpec {
        sizes = List.copyOf(sizes);
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
        return new CorpusSpec(seed, documents, minWords, maxWords, factsPerDoc, textFiles, List.of());
    }

    /** The committed sample, sample-data/corpus: about 3K, 10K, 30K, 60K words and one of 160K words
     * (over 200K tokens), 3 to 6 questions each, with text files. */
    public static CorpusSpec sample() {
        List<Long> sizes = List.of(3_000L, 10_000L, 30_000L, 60_000L, 160_000L);
        return new CorpusSpec(20261124L, sizes.size(), sizes.getFirst(), sizes.getLast(), 0, true, sizes);
    }
}
