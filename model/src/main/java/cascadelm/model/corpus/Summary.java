package cascadelm.model.corpus;

import java.util.List;
import java.util.TreeSet;

/**
 * The gold summary: who the story is about, the events of a few chapters in order (the first, the last,
 * those holding a planted fact and a few evenly spaced between), each planted fact verbatim after its
 * chapter's event, and the ending. Bounded at a dozen or so sentences however long the document is,
 * so it stays a summary of a 1M-token book.
 */
final class Summary {
    private Summary() {
    }

    /** Chapters whose event is told even without a planted fact in them. */
    static final int SPACED_CHAPTERS = 6;

    static String of(DocumentPlan plan, List<DocumentBuilder.Chapter> chapters, List<DocumentBuilder.PlacedFact> facts) {
        TreeSet<Integer> told = new TreeSet<>(); // chapter numbers, ascending
        int n = chapters.size();
        for (int i = 0; i < SPACED_CHAPTERS && n > 0; i++) {
            told.add(1 + (int) ((long) i * (n - 1) / Math.max(1, SPACED_CHAPTERS - 1)));
        }
        for (DocumentBuilder.PlacedFact f : facts) told.add(f.chapter());
        StringBuilder s = new StringBuilder();
        s.append("This is the story of ").append(plan.protagonist()).append(", who lived in ")
                .append(plan.homeTown()).append('.');
        int fact = 0;
        for (int number : told) {
            s.append(" In chapter ").append(number).append(", ").append(chapters.get(number - 1).event()).append('.');
            for (; fact < facts.size() && facts.get(fact).chapter() == number; fact++) {
                s.append(' ').append(facts.get(fact).fact().sentence());
            }
        }
        s.append(" In the end, ").append(plan.protagonist()).append(" returned home to ")
                .append(plan.homeTown()).append('.');
        return s.toString();
    }
}
