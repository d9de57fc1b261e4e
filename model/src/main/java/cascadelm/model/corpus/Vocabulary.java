package cascadelm.model.corpus;

import java.util.List;
import java.util.SplittableRandom;

/**
 * The word pools the documents are made of. Everything is plain ASCII and written for this project, so
 * character offsets, UTF-16 indices and UTF-8 byte offsets of the text coincide and nothing is copied.
 * Phrases carry their own article ("the harbour", "a grey cat") so no template has to choose "a" or "an".
 */
final class Vocabulary {
    private Vocabulary() {
    }

    static final List<String> NAMES = List.of(
            "Mira", "Tomas", "Ada", "Jonah", "Lena", "Felix", "Nora", "Oskar", "Iris", "Hugo",
            "Clara", "Milo", "Greta", "Elias", "Rosa", "Anton", "Talia", "Bruno", "Wren", "Silas",
            "Hazel", "Otto", "Maya", "Victor", "Lucia", "Emil", "Freya", "Jasper", "Nell", "Ruben",
            "Pia", "Dorian", "Ivy", "Leo", "Sofia", "Caspar", "Edith", "Magnus", "Alma", "Theo",
            "Yara", "Gideon", "Ines", "Arlo", "Bea", "Cyrus", "Della", "Ezra", "Fern", "Quentin",
            "Juno", "Kasimir", "Linnea", "Marek", "Odile", "Pavel", "Rhea", "Stellan", "Tova", "Ulric");

    /** People known by their work: the subjects of counting facts and of some narration. */
    static final List<String> ROLES = List.of(
            "the lighthouse keeper", "the baker", "the old fisherman", "the miller", "the schoolteacher",
            "the ferryman", "the blacksmith", "the shepherd", "the station master", "the innkeeper",
            "the gardener", "the night watchman", "the carpenter", "the weaver", "the postman",
            "the harbour master", "the beekeeper", "the bell ringer", "the potter", "the doctor");

    /** Things a role can count, plural. */
    static final List<String> COUNTABLES = List.of(
            "boats", "geese", "barrels", "lanterns", "sheep", "bells", "crows", "apples", "coins",
            "candles", "wagons", "chairs", "stars", "fish", "letters", "bottles", "horses", "windows",
            "baskets", "ropes");

    /** Where a role counted them: a tail that makes the sentence natural and is never part of the answer. */
    static final List<String> COUNT_TAILS = List.of(
            "in the bay", "before breakfast", "from the tower", "on the long road", "in the yard",
            "that winter", "along the river", "at the fair", "in the old shed", "by lamplight");

    static final List<String> COLOURS = List.of(
            "silver", "blue", "red", "green", "golden", "black", "white", "copper", "grey", "yellow",
            "brown", "purple", "orange", "amber", "ivory");

    static final List<String> OBJECTS = List.of(
            "key", "lantern", "ring", "box", "map", "bell", "cup", "book", "coin", "scarf", "knife",
            "compass", "whistle", "button", "spoon", "bottle", "feather", "stone", "letter", "brooch",
            "pencil", "candle", "watch", "shell", "ribbon", "comb", "kettle", "mirror", "flute", "glove");

    /** Prepositions that read naturally with every hiding spot. */
    static final List<String> HIDE_PREPOSITIONS = List.of("under", "behind", "beside", "near");

    static final List<String> HIDING_SPOTS = List.of(
            "the old bridge", "the red barn", "the stone wall", "the apple tree", "the garden shed",
            "the broken cart", "the wooden gate", "the fishing hut", "the tall hedge", "the chapel steps",
            "the hay cart", "the oak tree", "the boat house", "the water trough", "the back door",
            "the rain barrel", "the bakery oven", "the signal box", "the pear tree", "the wood pile");

    /** Where something was lost, each with the preposition it takes. */
    static final List<String> LOSS_PLACES = List.of(
            "at the market", "in the forest", "on the beach", "at the station", "in the meadow",
            "on the ferry", "at the fair", "in the orchard", "by the river", "in the snow",
            "at the harvest dance", "on the hill road", "in the reed beds", "at the school gate",
            "in the crowded inn", "on the cliff path");

    /** Settings of chapters and of narration; the chapter title is the capitalised place. */
    static final List<String> PLACES = List.of(
            "the harbour", "the old mill", "the market square", "the orchard", "the lighthouse",
            "the river bank", "the forest path", "the bakery", "the school", "the chapel", "the hill farm",
            "the library", "the station", "the inn", "the meadow", "the quarry", "the walled garden",
            "the beach", "the ferry landing", "the bell tower", "the fish market", "the high pasture",
            "the workshop", "the town hall", "the island", "the north road", "the valley", "the docks");

    private static final List<String> TOWN_HEADS = List.of(
            "West", "North", "Ash", "Oak", "Stone", "Elm", "Red", "Mill", "High", "Fern", "Salt", "Brack");
    private static final List<String> TOWN_TAILS = List.of(
            "marsh", "ford", "brook", "haven", "field", "wick", "dale", "moor", "combe", "stead", "holm");

    /** Town names composed from two parts, so there are 132 of them; a few happen to be real English
     * place names too (Ashford), which is harmless: nothing about them is taken from anywhere. */
    static final List<String> TOWNS = TOWN_HEADS.stream()
            .flatMap(h -> TOWN_TAILS.stream().map(t -> h + t)).toList();

    static final List<String> SETTLEMENTS = List.of("village", "town", "city", "hamlet");

    static final List<String> WEATHER = List.of(
            "the wind was cold", "rain fell softly", "the sky was clear", "a thin fog lay over the water",
            "the sun was warm", "snow had begun to fall", "the air smelled of salt", "clouds moved in from the sea",
            "the evening was still", "a storm was coming", "the morning was bright", "the light was fading");

    static final List<String> TIMES = List.of(
            "in the morning", "at noon", "late in the evening", "before sunrise", "after supper",
            "on the first day of spring", "that afternoon", "on market day", "at dusk", "during the night",
            "a week later", "the next day", "on Sunday", "in the middle of summer", "early on Tuesday");

    static final List<String> ANIMALS = List.of(
            "a grey cat", "an old dog", "a flock of geese", "a brown horse", "a small goat", "two white swans",
            "a fox", "a family of ducks", "a black crow", "a sleepy cow", "a young deer", "a pair of robins");

    static final List<String> FOODS = List.of(
            "fresh bread", "apple pie", "walnut bread", "cheese and pickles", "roasted chestnuts", "plum jam",
            "honey cakes", "fried fish", "oat biscuits", "fresh pears", "smoked ham", "boiled eggs");

    static final List<String> FEELINGS = List.of(
            "happy", "tired", "calm", "worried", "hopeful", "curious", "restless", "proud", "cheerful",
            "quiet", "thoughtful", "nervous");

    static final List<String> ACTIVITIES = List.of(
            "mending nets", "reading by the window", "sweeping the floor", "painting the fence",
            "writing letters", "chopping wood", "baking bread", "feeding the chickens", "fixing the roof",
            "sorting old papers", "knitting a blanket", "tuning a fiddle", "planting beans", "cleaning the lamps");

    static final List<String> SOUNDS = List.of(
            "the church bells", "the gulls", "the mill wheel", "the wind in the chimney", "the rain on the roof",
            "a distant train", "the waves", "the children in the lane", "a barking dog", "the clock in the hall");

    static final List<String> LANDSCAPES = List.of(
            "the hills", "the river", "the fields", "the sea", "the woods", "the rooftops", "the harbour lights",
            "the green valley", "the quiet lane", "the marsh");

    static String pick(List<String> pool, SplittableRandom random) {
        return pool.get(random.nextInt(pool.size()));
    }

    /** "the harbour" becomes "The harbour": sentence starts and chapter titles. */
    static String capitalize(String s) {
        return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
