package cascadelm.model.corpus;

import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Generates a corpus of book-length documents in simple English whose facts, questions, answers and
 * summaries are known, deterministically from a seed (SplittableRandom only; no clock, no hash order).
 *
 * <h2>Output (UTF-8; the text itself is plain ASCII, so character offsets are also byte offsets)</h2>
 * <ul>
 * <li>{@code documents.jsonl}, one JSON object per line, fields in this order:
 * <pre>{"doc_id": "doc-42-00000", "title": "...", "text": "...", "summary": "...",
 *  "questions": [{"question_id": "doc-42-00000-q1", "question": "Where did Mira hide the silver key?",
 *                 "answer": "under the old bridge", "fact": "Mira hid the silver key under the old bridge.",
 *                 "fact_offset": 12345, "fact_word": 2100}]}</pre>
 * {@code fact_offset} is the character offset of the fact sentence in {@code text}
 * ({@code text.substring(fact_offset).startsWith(fact)}); {@code fact_word} is the number of words before it
 * (a word is a maximal run of non-whitespace). The answer is a substring of the fact. Questions are in text
 * order.</li>
 * <li>{@code questions.jsonl}, one line per question:
 * {@code {"doc_id", "question_id", "question", "answer", "fact_offset", "doc_chars", "fact_word", "doc_words"}},
 * {@code doc_chars} and {@code doc_words} being the length of the document's text.</li>
 * <li>{@code docs/<doc_id>.txt} (with text files on): the text, byte for byte the "text" field.</li>
 * </ul>
 *
 * <h2>The text</h2>
 * A title line, then chapters ("Chapter 3. The harbour") opening with the chapter's event, then paragraphs
 * of narration; blocks are separated by a blank line and the text ends with a newline. Facts come from
 * {@link FactKind}: the planted ones have questions; distractors use the same templates about other
 * people or things (half of them near misses of a planted fact), and no two facts of a document answer the
 * same question. The summary is described in {@link Summary}.
 *
 * <p>Document {@code i} depends only on the seed and {@code i} (its size, facts and text), so a corpus of
 * N documents is a prefix of one of N+1.
 */
public final class CorpusGenerator {
    private CorpusGenerator() {
    }

    /** Totals of a run; {@code nanos} is wall time, for the words-per-second report. */
    public record Result(int documents, long words, long chars, long questions, long nanos) {
        public double wordsPerSecond() {
            return words / Math.max(1e-9, nanos / 1e9);
        }
    }

    /** Told after each document, with the totals so far. */
    public interface Progress {
        void written(int documentsDone, long wordsSoFar);
    }

    /** Writes the corpus into {@code dir}, which must exist; files there with the corpus's names are replaced. */
    public static Result generate(CorpusSpec spec, Path dir, Progress progress) throws IOException {
        long start = System.nanoTime();
        long words = 0;
        long chars = 0;
        long questions = 0;
        try (CorpusWriter writer = new CorpusWriter(dir, spec.textFiles())) {
            for (int i = 0; i < spec.documents(); i++) {
                CorpusWriter.Written w = writer.write(plan(spec, i));
                words += w.words();
                chars += w.chars();
                questions += w.questions();
                if (progress != null) progress.written(i + 1, words);
            }
        }
        return new Result(spec.documents(), words, chars, questions, System.nanoTime() - start);
    }

    static DocumentPlan plan(CorpusSpec spec, int index) {
        SplittableRandom random = new SplittableRandom(documentSeed(spec.seed(), index));
        long target = spec.sizes().isEmpty() ? logUniform(spec.minWords(), spec.maxWords(), random)
                : spec.sizes().get(index);
        int facts = spec.factsPerDoc() > 0 ? spec.factsPerDoc() : 3 + random.nextInt(4);
        return DocumentPlan.make(docId(spec.seed(), index), random, target, facts, spec.factDepth());
    }

    /** Ids carry the seed, so corpora made with different seeds (training, held out) can be mixed. */
    static String docId(long seed, int index) {
        return String.format(java.util.Locale.ROOT, "doc-%d-%05d", seed, index);
    }

    /** A seed per document from the corpus seed and the index, through two rounds of a 64-bit finaliser
     * (Stafford's mix 13) so that neighbouring seeds and indices give unrelated streams. */
    static long documentSeed(long seed, int index) {
        return mix(mix(seed) + index);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    private static long logUniform(long min, long max, SplittableRandom random) {
        if (min == max) return min;
        double value = Math.exp(Math.log(min) + random.nextDouble() * (Math.log(max) - Math.log(min)));
        return Math.clamp(Math.round(value), min, max);
    }
}
