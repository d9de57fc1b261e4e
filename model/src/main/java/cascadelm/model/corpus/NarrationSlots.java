package cascadelm.model.corpus;

import java.util.List;
import java.util.SplittableRandom;

import static cascadelm.model.corpus.Vocabulary.pick;

/** Fills the slots of {@link Narration}'s templates from the cast and the vocabulary. */
final class NarrationSlots implements SentenceTemplate.Slots {
    private final SplittableRandom random;
    private final List<String> cast;
    private final String[] values = new String[26]; // this sentence's value per letter
    private String chapterPlace = "the harbour";
    private boolean onlyChapterPlace;

    NarrationSlots(SplittableRandom random, List<String> cast) {
        this.random = random;
        this.cast = cast;
    }

    /** Half of the places named in a chapter are its own place, so a chapter reads as being somewhere. */
    void setChapterPlace(String place) {
        this.chapterPlace = place;
    }

    /** A chapter's event happens at the chapter's place (its title), not at a random one. */
    void onlyChapterPlace(boolean only) {
        this.onlyChapterPlace = only;
    }

    @Override
    public void newSentence() {
        java.util.Arrays.fill(values, null);
    }

    @Override
    public String value(char slot) {
        int i = slot - 'A';
        if (values[i] == null) values[i] = fresh(slot);
        return values[i];
    }

    private String fresh(char slot) {
        return switch (slot) {
            case 'N' -> person(values['M' - 'A']);
            case 'M' -> person(values['N' - 'A']);
            case 'P' -> onlyChapterPlace || random.nextBoolean() ? chapterPlace : pick(Vocabulary.PLACES, random);
            case 'X' -> pick(Vocabulary.TOWNS, random);
            case 'W' -> pick(Vocabulary.WEATHER, random);
            case 'T' -> pick(Vocabulary.TIMES, random);
            case 'A' -> pick(Vocabulary.ANIMALS, random);
            case 'F' -> pick(Vocabulary.FOODS, random);
            case 'E' -> pick(Vocabulary.FEELINGS, random);
            case 'G' -> pick(Vocabulary.ACTIVITIES, random);
            case 'R' -> pick(Vocabulary.ROLES, random);
            case 'S' -> pick(Vocabulary.SOUNDS, random);
            case 'L' -> pick(Vocabulary.LANDSCAPES, random);
            case 'C' -> pick(Vocabulary.COLOURS, random);
            case 'O' -> pick(Vocabulary.OBJECTS, random);
            default -> throw new IllegalArgumentException("unknown slot {" + slot + "}");
        };
    }

    /** A cast member other than {@code not} (N and M of one sentence are two people). */
    private String person(String not) {
        String p;
        do {
            p = pick(cast, random);
        } while (p.equals(not));
        return p;
    }
}
