package cascadelm.model.corpus;

import java.util.SplittableRandom;

import static cascadelm.model.corpus.Vocabulary.capitalize;
import static cascadelm.model.corpus.Vocabulary.pick;

/**
 * The fact templates. Each makes a sentence, the question it answers, the gold answer (a span of the
 * sentence) and the key that says what the question is about. Narration never uses these verbs (hid, lost,
 * gave, born, counted), so a fact-shaped sentence in a document is always one of its facts.
 */
enum FactKind {
    /** "Mira hid the silver key under the old bridge." Where did Mira hide the silver key? */
    HID {
        @Override
        Fact make(SplittableRandom r, String person) {
            String name = person != null ? person : pick(Vocabulary.NAMES, r);
            String thing = pick(Vocabulary.COLOURS, r) + " " + pick(Vocabulary.OBJECTS, r);
            String where = pick(Vocabulary.HIDE_PREPOSITIONS, r) + " " + pick(Vocabulary.HIDING_SPOTS, r);
            return new Fact(this, name + " hid the " + thing + " " + where + ".",
                    "Where did " + name + " hide the " + thing + "?", where, name, placeKey(name, thing));
        }
    },
    /** "Mira lost the copper ring at the market." Where did Mira lose the copper ring? */
    LOST {
        @Override
        Fact make(SplittableRandom r, String person) {
            String name = person != null ? person : pick(Vocabulary.NAMES, r);
            String thing = pick(Vocabulary.COLOURS, r) + " " + pick(Vocabulary.OBJECTS, r);
            String where = pick(Vocabulary.LOSS_PLACES, r);
            return new Fact(this, name + " lost the " + thing + " " + where + ".",
                    "Where did " + name + " lose the " + thing + "?", where, name, placeKey(name, thing));
        }
    },
    /** "Mira gave the blue lantern to Tomas." What did Mira give to Tomas? */
    GAVE {
        @Override
        Fact make(SplittableRandom r, String person) {
            String giver = person != null ? person : pick(Vocabulary.NAMES, r);
            String receiver;
            do {
                receiver = pick(Vocabulary.NAMES, r);
            } while (receiver.equals(giver));
            String thing = "the " + pick(Vocabulary.COLOURS, r) + " " + pick(Vocabulary.OBJECTS, r);
            return new Fact(this, giver + " gave " + thing + " to " + receiver + ".",
                    "What did " + giver + " give to " + receiver + "?", thing, giver,
                    "gave|" + giver + "|" + receiver);
        }
    },
    /** "Tomas was born in the village of Westmarsh." Where was Tomas born? */
    BORN {
        @Override
        Fact make(SplittableRandom r, String person) {
            String name = person != null ? person : pick(Vocabulary.NAMES, r);
            String town = pick(Vocabulary.TOWNS, r);
            return new Fact(this, name + " was born in the " + pick(Vocabulary.SETTLEMENTS, r) + " of " + town + ".",
                    "Where was " + name + " born?", town, name, "born|" + name);
        }
    },
    /** "The lighthouse keeper counted 47 boats in the bay." How many boats did the lighthouse keeper count? */
    COUNTED {
        @Override
        Fact make(SplittableRandom r, String person) {
            String role = person != null ? person : pick(Vocabulary.ROLES, r);
            String things = pick(Vocabulary.COUNTABLES, r);
            String number = Integer.toString(2 + r.nextInt(998));
            return new Fact(this, capitalize(role) + " counted " + number + " " + things + " "
                    + pick(Vocabulary.COUNT_TAILS, r) + ".",
                    "How many " + things + " did " + role + " count?", number, role,
                    "count|" + role + "|" + things);
        }
    };

    /**
     * A fact of this kind; {@code person} (a name, or a role for {@link #COUNTED}) or null for a random one.
     * A distractor made with the person of a planted fact is a near miss: same template, same person,
     * different key.
     */
    abstract Fact make(SplittableRandom random, String person);

    /** Hiding and losing share a key, so "Where did Mira hide/lose the silver key?" never has two answers. */
    private static String placeKey(String name, String thing) {
        return "place|" + name + "|" + thing;
    }

    static FactKind random(SplittableRandom random) {
        FactKind[] all = values();
        return all[random.nextInt(all.length)];
    }
}
