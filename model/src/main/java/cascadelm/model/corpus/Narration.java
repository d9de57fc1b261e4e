package cascadelm.model.corpus;

import java.util.List;

/**
 * The filler narration and the chapter-level events. Slots: N and M two different people of the cast,
 * P a place, X a town, W weather (a clause), T a time, A an animal, F food, E a feeling, G an activity,
 * R a role, S a sound, L a landscape, C a colour, O an object.
 *
 * <p>None of these sentences may use the fact verbs (hid, hide, lost, lose, gave, give, born, counted):
 * a question has to be answerable by exactly one sentence of its document, and the tests scan for them.
 */
final class Narration {
    private Narration() {
    }

    static final List<SentenceTemplate> FILLER = SentenceTemplate.compileAll(List.of(
            "{N} walked to {P} {T}.",
            "{T}, {W}.",
            "{N} spent the afternoon {G}.",
            "{N} and {M} shared {F} at {P}.",
            "{N} felt {E} and looked out at {L}.",
            "{S} could be heard from {P}.",
            "{A} wandered past {P} while {N} watched.",
            "{R} waved to {N} from the doorway.",
            "{N} asked {M} about the road to {X}.",
            "\"It will rain before dark,\" said {N}.",
            "\"Come and see this,\" {N} called to {M}.",
            "{N} remembered the summers in {X}.",
            "Nobody at {P} spoke for a while.",
            "{N} was {E} that day, because {W}.",
            "{T}, {N} went down to {P} with {M}.",
            "{R} told a long story about {X}, and {N} listened.",
            "The road past {P} was quiet.",
            "{N} found {M} {G} at {P}.",
            "{N} bought {F} from {R}.",
            "{M} laughed at something {N} said.",
            "{N} carried a basket of {F} up the hill.",
            "From {P} one could see {L}.",
            "{N} wrote a short letter to a friend in {X}.",
            "{A} followed {N} all the way to {P}.",
            "{N} cleaned the {C} {O} and put it back on the shelf.",
            "Somewhere near {P}, {S} went quiet.",
            "{N} and {M} walked toward {L} until dark.",
            "{N} sat by the fire and felt {E}.",
            "\"Have you seen {R}?\" asked {N}.",
            "\"I am going to {X} soon,\" {N} told {M}.",
            "{M} nodded and said nothing.",
            "{T}, {A} appeared at {P}.",
            "{N} helped {R} with the heavy work.",
            "The smell of {F} drifted across {P}.",
            "{R} said that {W}.",
            "{N} listened to {S} and felt {E}.",
            "Everyone at {P} knew {N} by name.",
            "{N} and {M} played cards late into the night.",
            "{N} taught {M} an old song from {X}.",
            "{N} went to bed early, {E} after the long day.",
            "The windows of {P} were dark.",
            "{M} brought {F} for everyone.",
            "{N} made a pencil drawing of {L}.",
            "{A} slept in the sun near {P}.",
            "{N} had never been to {X}, but {M} had.",
            "{R} closed the shutters and went to bed.",
            "There was a small party at {P}, and {N} danced with {M}.",
            "{N} noticed that {W}.",
            "{M} spent the morning {G}, and {N} joined later.",
            "A letter from {X} arrived for {N}.",
            "{N} smiled at {R}.",
            "The people of {X} liked to tell stories about {P}.",
            "{N} was {E} and could not sleep.",
            "{T}, {R} and {N} talked about the weather.",
            "{N} mended the {C} {O} with great care.",
            "\"We should go home now,\" said {M}.",
            "{N} watched {L} turn gold in the evening light.",
            "{N} asked {R} for directions to {P}.",
            "{T}, the streets near {P} were empty.",
            "{M} and {N} sat on the wall and talked about {X}.",
            "{N} opened the window, and {S} filled the room.",
            "It was a long walk from {P} to the edge of {X}.",
            "{R} had lived near {P} for many years.",
            "{N} put on a warm coat because {W}.",
            "{M} was {E}, but did not say why."));

    /** Chapter events: clauses, so the text can say "Mira met Tomas at the inn." and the summary
     * "In chapter 4, Mira met Tomas at the inn." P is the chapter's place. */
    static final List<SentenceTemplate> EVENTS = SentenceTemplate.compileAll(List.of(
            "{N} travelled to {P} with {M}",
            "{N} met {M} at {P} for the first time",
            "a storm reached {P}, and {N} helped the neighbours",
            "{N} found an old map at {P}",
            "{N} and {M} argued at {P} and then made peace",
            "{N} held a feast at {P} for the whole village",
            "{N} taught {M} to read at {P}",
            "{N} waited at {P} for news from {X}",
            "{N} and {M} spent a long day at {P}",
            "{N} fell ill and rested at {P} for a week",
            "{N} started a new job at {P}",
            "{M} arrived from {X} and stayed at {P}",
            "{N} and {M} searched {P} for a missing dog",
            "a fire broke out near {P}, and {N} raised the alarm",
            "{N} organised a concert at {P}",
            "{N} said goodbye to {M} at {P}"));

    /** How many sentences a paragraph has: 3 to 7. */
    static final int MIN_PARAGRAPH = 3;
    static final int MAX_PARAGRAPH = 7;
}
