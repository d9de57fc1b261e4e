package cascadelm.spark.core;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One doc_id's documents and questions sorted out: one task per key, nothing guessed, nothing lost. */
class InputGroupTest {
    private static final Document DOC = new Document("d", "Dusk", "The keeper lit the lamp.", null);

    @Test
    void aDocumentGetsItsSummaryAndItsQuestionsInQuestionIdOrder() {
        InputGroup g = InputGroup.of("d", List.of(DOC), List.of(new Question("d", "q2", "Who?"), new Question("d", "q1", "When?")),
                true, Set.of());
        assertEquals(DOC, g.work().document());
        assertEquals(List.of(TaskSpec.summary(), TaskSpec.question("q1", "When?"), TaskSpec.question("q2", "Who?")), g.work().tasks());
        assertEquals(List.of(), g.orphans());
        assertEquals(0, g.keylessDocuments() + g.keylessQuestions());
    }

    @Test
    void duplicatesStayOneKeyWhoseRowsAreErrorsNamingTheDuplicate() {
        InputGroup g = InputGroup.of("d", List.of(DOC, new Document("d", null, "another text", null)),
                List.of(new Question("d", "q", "Who?"), new Question("d", "q", "Whom?"), new Question("d", "r", "Why?")), true, Set.of());
        assertNull(g.work().document().text(), "neither copy is read");
        assertTrue(g.work().document().problem().contains("doc_id given to 2 documents"), g.work().document().problem());
        List<TaskSpec> tasks = g.work().tasks();
        assertEquals(3, tasks.size());
        assertTrue(tasks.get(1).problem().contains("question_id given to 2 questions"), tasks.get(1).toString());
        assertEquals(TaskSpec.question("r", "Why?"), tasks.get(2));
    }

    @Test
    void questionsAboutNoDocumentAreOrphansOncePerKey() {
        InputGroup g = InputGroup.of("gone", List.of(), List.of(new Question("gone", "q", "Where?"), new Question("gone", "q", "Where?")),
                true, Set.of());
        assertNull(g.work());
        assertEquals(List.of(new ResultKey("gone", TaskSpec.QA, "q")), g.orphans());
    }

    @Test
    void rowsWithoutAKeyAreCountedNotProcessed() {
        InputGroup nulls = InputGroup.of(null, List.of(DOC, DOC), List.of(new Question(null, "q", "?")), true, Set.of());
        assertNull(nulls.work());
        assertEquals(List.of(), nulls.orphans());
        assertEquals(2, nulls.keylessDocuments());
        assertEquals(1, nulls.keylessQuestions());
        InputGroup noQuestionId = InputGroup.of("d", List.of(DOC), List.of(new Question("d", null, "?")), false, Set.of());
        assertEquals(1, noQuestionId.keylessQuestions());
        assertNull(noQuestionId.work(), "no summary asked and no answerable question: nothing to do");
    }

    @Test
    void keysAnEarlierRunCommittedAreNotDoneAgain() {
        Set<ResultKey> done = Set.of(new ResultKey("d", TaskSpec.SUMMARY, null), new ResultKey("gone", TaskSpec.QA, "q"));
        InputGroup g = InputGroup.of("d", List.of(DOC), List.of(new Question("d", "q1", "When?")), true, done);
        assertEquals(List.of(TaskSpec.question("q1", "When?")), g.work().tasks());
        assertNull(InputGroup.of("d", List.of(DOC), List.of(), true, done).work());
        assertEquals(List.of(), InputGroup.of("gone", List.of(), List.of(new Question("gone", "q", "?")), true, done).orphans());
    }
}
