package cascadelm.model.corpus;

/**
 * One fact sentence of a document and the question it answers.
 *
 * @param kind     the template it was made from
 * @param sentence the sentence as it appears in the text, ending with a period
 * @param question a question that only this sentence answers
 * @param answer   the gold answer, a substring of {@code sentence}
 * @param person   who the fact is about (a name or a role), as it is written in the sentence
 * @param key      what the question asks about (e.g. {@code place|Mira|silver key}); two facts of one
 *                 document never share a key, which is what makes every question unambiguous
 */
record Fact(FactKind kind, String sentence, String question, String answer, String person, String key) {
    Fact {
        if (!sentence.contains(answer)) {
            throw new IllegalArgumentException("answer '" + answer + "' is not in '" + sentence + "'");
        }
    }
}
