package cascadelm.model.corpus;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NarrationTest {
    private final SplittableRandom random = new SplittableRandom(1);
    private final NarrationSlots slots = new NarrationSlots(random, Vocabulary.NAMES.subList(0, 8));

    @Test
    void narrationNeverUsesAFactVerb() {
        for (SentenceTemplate t : Stream.concat(Narration.FILLER.stream(), Narration.EVENTS.stream()).toList()) {
            for (int i = 0; i < 200; i++) {
                StringBuilder s = new StringBuilder();
                t.appendTo(s, slots);
                assertFalse(FactScanner.FACT_VERB.matcher(s).find(), s.toString());
            }
        }
    }

    @Test
    void sentencesStartWithACapitalAndHaveNoEmptySlots() {
        for (SentenceTemplate t : Narration.FILLER) {
            StringBuilder s = new StringBuilder();
            t.appendTo(s, slots);
            char first = s.charAt(0) == '"' ? s.charAt(1) : s.charAt(0);
            assertTrue(Character.isUpperCase(first), s.toString());
            assertFalse(s.toString().contains("{") || s.toString().contains("null"), s.toString());
        }
    }

    @Test
    void twoPeopleOfOneSentenceAreDifferent() {
        SentenceTemplate t = SentenceTemplate.compile("{N} met {M}.");
        for (int i = 0; i < 500; i++) {
            StringBuilder s = new StringBuilder();
            t.appendTo(s, slots);
            String[] w = s.toString().replace(".", "").split(" met ");
            assertFalse(w[0].equals(w[1]), s.toString());
        }
    }

    @Test
    void aRepeatedSlotKeepsItsValue() {
        StringBuilder s = new StringBuilder();
        SentenceTemplate.compile("{X} and {X}").appendTo(s, slots);
        String[] w = s.toString().split(" and ");
        assertEquals(w[0], w[1]);
    }

    @Test
    void malformedSlotsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> SentenceTemplate.compile("{n} went"));
        assertThrows(IllegalArgumentException.class, () -> SentenceTemplate.compile("{N went"));
    }

    @Test
    void everyFactKindAnswersItsQuestionFromItsSentence() {
        for (FactKind kind : FactKind.values()) {
            for (int i = 0; i < 100; i++) {
                Fact f = kind.make(random, null);
                assertTrue(f.sentence().contains(f.answer()));
                List<FactScanner.Found> found = FactScanner.facts(f.sentence());
                assertEquals(1, found.size(), f.sentence());
                assertEquals(FactScanner.key(f.question()), found.getFirst().key(), f.question());
                assertEquals(f.answer(), found.getFirst().answer());
            }
        }
    }
}
