package cascadelm.model.corpus;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static cascadelm.model.corpus.Vocabulary.capitalize;
import static cascadelm.model.corpus.Vocabulary.pick;

/**
 * Writes the text of one {@link DocumentPlan} a block at a time (the title, a chapter heading, a
 * paragraph), so a document of any length streams out in constant memory, and records where each planted
 * fact landed and what each chapter was about, for the questions and the summary written after the text.
 *
 * <p>Layout: the title, then chapters ("Chapter 3. The harbour") of paragraphs; blocks are separated by a
 * blank line and sentences by one space; the text ends with a newline. A word is a maximal run of
 * non-whitespace characters; the builder counts them as it goes and stops within a sentence of the plan's
 * target.
 */
final class DocumentBuilder {
    /** A planted fact where it landed: offsets count characters (ASCII, so also bytes) and words before it. */
    record PlacedFact(Fact fact, String questionId, long charOffset, long wordIndex, int chapter) {
    }

    /** A chapter's number, place and event (a clause: "Mira met Tomas at the inn"). */
    record Chapter(int number, String place, String event) {
    }

    /** Words the closing paragraph needs; paragraphs stop this far before the target. */
    private static final int CLOSING_RESERVE = 20;
    private static final int MIN_CHAPTER_WORDS = 1_200;
    private static final int MAX_CHAPTER_WORDS = 3_200;
    /** A new chapter only starts when at least this much text is left for it. */
    private static final int MIN_LAST_CHAPTER = 600;

    private final DocumentPlan plan;
    private final SplittableRandom random;
    private final NarrationSlots slots;
    private final StringBuilder block = new StringBuilder(2048);
    private final List<PlacedFact> placed = new ArrayList<>();
    private final List<Chapter> chapters = new ArrayList<>();

    private long charsBefore; // characters in all blocks before the current one
    private long words;
    private int nextFact;
    private long chapterEnd; // word count at which the current chapter may end
    private boolean started;
    private boolean done;

    DocumentBuilder(DocumentPlan plan) {
        this.plan = plan;
        this.random = new SplittableRandom(plan.narrationSeed());
        this.slots = new NarrationSlots(random, plan.cast());
    }

    /** The next block of text, or null after the last one. The returned builder is reused by the next call. */
    StringBuilder nextBlock() {
        if (done) return null;
        charsBefore += block.length();
        block.setLength(0);
        if (!started) {
            started = true;
            appendCounted(plan.title());
        } else if (words >= plan.targetWords() - CLOSING_RESERVE) {
            closing();
        } else if (chapters.isEmpty() || (words >= chapterEnd
                && plan.targetWords() - words >= MIN_LAST_CHAPTER + CLOSING_RESERVE)) {
            chapter();
        } else {
            block.append("\n\n");
            paragraph(Narration.MIN_PARAGRAPH + random.nextInt(Narration.MAX_PARAGRAPH - Narration.MIN_PARAGRAPH + 1));
        }
        return block;
    }

    long words() {
        return words;
    }

    long chars() {
        return charsBefore + block.length();
    }

    List<PlacedFact> placedFacts() {
        return placed;
    }

    List<Chapter> chapters() {
        return chapters;
    }

    /** A heading, then the chapter's first paragraph, which opens with its event. */
    private void chapter() {
        String place = pick(Vocabulary.PLACES, random);
        slots.setChapterPlace(place);
        int number = chapters.size() + 1;
        block.append("\n\n");
        appendCounted("Chapter " + number + ". " + capitalize(place));
        block.append("\n\n");
        int start = block.length();
        slots.onlyChapterPlace(true);
        Narration.EVENTS.get(random.nextInt(Narration.EVENTS.size())).appendTo(block, slots, false);
        slots.onlyChapterPlace(false);
        String event = block.substring(start);
        block.setCharAt(start, Character.toUpperCase(block.charAt(start)));
        block.append('.');
        words += countWords(block, start, block.length());
        chapters.add(new Chapter(number, place, event));
        if (number == 1) sentence(plan.protagonist() + " lived in " + plan.homeTown() + ", a small place where everyone knew everyone.");
        chapterEnd = words + MIN_CHAPTER_WORDS + random.nextInt(MAX_CHAPTER_WORDS - MIN_CHAPTER_WORDS);
        paragraph(2 + random.nextInt(4));
    }

    /** Filler sentences, with any facts whose position has been reached put in between. */
    private void paragraph(int sentences) {
        for (int i = 0; i < sentences && words < plan.targetWords() - CLOSING_RESERVE; i++) {
            if (nextFact < plan.facts().size() && words >= plan.facts().get(nextFact).wordPosition()) {
                fact(plan.facts().get(nextFact++));
            } else {
                separate();
                int start = block.length();
                Narration.FILLER.get(random.nextInt(Narration.FILLER.size())).appendTo(block, slots);
                words += countWords(block, start, block.length());
            }
        }
    }

    private void closing() {
        block.append("\n\n");
        while (nextFact < plan.facts().size()) fact(plan.facts().get(nextFact++)); // none is left behind
        sentence(plan.protagonist() + " returned home to " + plan.homeTown() + ", and life went on as before.");
        sentence("The end.");
        block.append('\n');
        done = true;
    }

    private void fact(DocumentPlan.PlannedFact f) {
        separate();
        if (f.planted()) {
            placed.add(new PlacedFact(f.fact(), f.questionId(), chars(), words, chapters.size()));
        }
        appendCounted(f.fact().sentence());
    }

    private void sentence(String s) {
        separate();
        appendCounted(s);
    }

    /** One space between sentences of a paragraph; none after the blank line that opens a block. */
    private void separate() {
        if (!block.isEmpty() && block.charAt(block.length() - 1) != '\n') block.append(' ');
    }

    private void appendCounted(String s) {
        int start = block.length();
        block.append(s);
        words += countWords(block, start, block.length());
    }

    /** Words starting in [from, to): the text before {@code from} always ends in whitespace here. */
    static long countWords(CharSequence s, int from, int to) {
        long n = 0;
        boolean inWord = false;
        for (int i = from; i < to; i++) {
            boolean space = Character.isWhitespace(s.charAt(i));
            if (!space && !inWord) n++;
            inWord = !space;
        }
        return n;
    }
}
