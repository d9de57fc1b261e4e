package cascadelm.model.corpus;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static cascadelm.model.corpus.Vocabulary.capitalize;
import static cascadelm.model.corpus.Vocabulary.pick;

/**
 * What a document will contain, decided before its first word is written: title, cast, length and the
 * facts with the word positions they go to. Deciding the facts first is what lets the text stream out
 * while the questions (written after the text) still know where their facts are.
 *
 * @param facts planted facts and distractors, in the order they appear in the text
 */
record DocumentPlan(String docId, String title, long targetWords, List<String> cast, String homeTown,
                    List<PlannedFact> facts, long narrationSeed) {

    /** A fact and the word count after which it is written; {@code questionId} is null for a distractor. */
    record PlannedFact(Fact fact, long wordPosition, String questionId) {
        boolean planted() {
            return questionId != null;
        }
    }

    static final int CAST_SIZE = 8;

    /** Distractors go anywhere but the last 5%, which the closing paragraph may take. */
    private static final double MAX_DEPTH = CorpusSpec.MAX_FACT_DEPTH;
    /** One distractor per this many words on top of one per planted fact. */
    private static final int WORDS_PER_DISTRACTOR = 2_500;

    /**
     * Planted facts sit in equal slices of the first {@code factDepth} of the document, at a random depth inside
     * each slice, so the questions cover near and far (all of it at the default depth, 0.95).
     */
    static DocumentPlan make(String docId, SplittableRandom random, long targetWords, int plantedFacts, double factDepth) {
        List<String> cast = pickDistinct(Vocabulary.NAMES, CAST_SIZE, random);
        String homeTown = pick(Vocabulary.TOWNS, random);
        String title = title(random, cast, homeTown);

        Set<String> keys = new HashSet<>(); // membership only; never iterated, so its order cannot leak
        List<PlannedFact> planted = new ArrayList<>();
        for (int i = 0; i < plantedFacts; i++) {
            Fact fact = unusedFact(random, keys, null, cast);
            double depth = (i + 0.05 + 0.9 * random.nextDouble()) / plantedFacts * factDepth;
            planted.add(new PlannedFact(fact, Math.round(depth * targetWords), "q"));
        }
        List<PlannedFact> all = new ArrayList<>(planted);
        long distractors = plantedFacts + targetWords / WORDS_PER_DISTRACTOR;
        for (long i = 0; i < distractors; i++) {
            // Half are near misses: same template and person as a planted fact, another object or place.
            Fact near = random.nextBoolean() ? planted.get(random.nextInt(planted.size())).fact() : null;
            Fact fact = unusedFact(random, keys, near, cast);
            if (fact == null) continue; // every key of that kind is taken; fewer distractors is fine
            all.add(new PlannedFact(fact, Math.round(random.nextDouble() * MAX_DEPTH * targetWords), null));
        }
        all.sort((a, b) -> Long.compare(a.wordPosition(), b.wordPosition())); // stable: ties keep plan order
        List<PlannedFact> ordered = new ArrayList<>(all.size());
        int q = 0;
        for (PlannedFact f : all) {
            ordered.add(f.planted() ? new PlannedFact(f.fact(), f.wordPosition(), docId + "-q" + ++q) : f);
        }
        return new DocumentPlan(docId, title, targetWords, cast, homeTown, List.copyOf(ordered), random.nextLong());
    }

    List<PlannedFact> planted() {
        return facts.stream().filter(PlannedFact::planted).toList();
    }

    String protagonist() {
        return cast.getFirst();
    }

    /** A fact whose key no other fact of the document has; null after many misses (planted facts never
     * miss: with 5 kinds and thousands of keys per kind a document never runs out). */
    private static Fact unusedFact(SplittableRandom random, Set<String> keys, Fact nearMiss, List<String> cast) {
        for (int attempt = 0; attempt < 50; attempt++) {
            FactKind kind = nearMiss != null && attempt < 10 ? nearMiss.kind() : FactKind.random(random);
            String person = nearMiss != null && attempt < 10 ? nearMiss.person()
                    : kind == FactKind.COUNTED || random.nextInt(4) == 0 ? null : pick(cast, random);
            Fact fact = kind.make(random, person);
            if (keys.add(fact.key())) return fact;
        }
        if (nearMiss == null) throw new IllegalStateException("no unused fact key left");
        return null;
    }

    private static String title(SplittableRandom random, List<String> cast, String town) {
        return switch (random.nextInt(6)) {
            case 0 -> "The " + capitalize(pick(Vocabulary.COLOURS, random)) + " "
                    + capitalize(pick(Vocabulary.OBJECTS, random));
            case 1 -> cast.getFirst() + " of " + town;
            case 2 -> "A Summer in " + town;
            case 3 -> "The Road to " + town;
            case 4 -> cast.getFirst() + " and " + cast.get(1);
            default -> "Letters from " + town;
        };
    }

    private static List<String> pickDistinct(List<String> pool, int n, SplittableRandom random) {
        List<String> copy = new ArrayList<>(pool);
        for (int i = 0; i < n; i++) { // partial Fisher-Yates: the first n are a uniform sample
            int j = i + random.nextInt(copy.size() - i);
            copy.set(j, copy.set(i, copy.get(j)));
        }
        return List.copyOf(copy.subList(0, n));
    }
}
