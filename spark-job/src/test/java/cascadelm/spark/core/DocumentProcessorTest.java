package cascadelm.spark.core;

import cascadelm.spark.TestCorpus;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DocumentProcessorTest {
    private static final JobSettings SETTINGS = JobSettings.of(Map.of("model", TestCorpus.MODEL.toString(),
            "summary-max-tokens", "12", "answer-max-tokens", "6", "cache-size", "256", "cascades", "4", "sinks", "8",
            "stride", "64"));
    private static final String TEXT = "The keeper lit the lamp at dusk. Mara waited by the water. ".repeat(30);

    private final List<long[]> events = new ArrayList<>();
    private final DocumentProcessor processor = new DocumentProcessor(ExecutorModel.get(SETTINGS), SETTINGS,
            (in, out, errors, modelNanos) -> events.add(new long[]{in, out, errors, modelNanos}));

    @Test
    void yieldsOneOkRowPerTaskInTaskOrder() {
        List<TaskSpec> tasks = List.of(TaskSpec.summary(), TaskSpec.question("q1", "Who lit the lamp?"),
                TaskSpec.question("q2", "When?"));
        List<ResultRow> rows = processor.process(Document.of("d1", TEXT), tasks);
        assertEquals(3, rows.size());
        for (int i = 0; i < 3; i++) {
            ResultRow r = rows.get(i);
            assertEquals(tasks.get(i).key("d1"), r.key());
            assertEquals(ResultRow.OK, r.status(), r.error());
            assertNull(r.error());
            assertTrue(r.tokensOut() > 0 && r.tokensOut() <= (i == 0 ? 12 : 6), "tokens out " + r.tokensOut());
            assertTrue(r.tokensIn() > TEXT.length() / 8, "the document's tokens count in every row");
            assertTrue(r.prefillMs() > 0 && r.decodeMs() >= 0);
            assertEquals("cpu", r.backend());
            assertEquals("tiny-random-llama3.Q8_0.gguf", r.model());
            assertTrue(r.cache().startsWith("cascade("), r.cache());
        }
        assertEquals(1, events.size(), "the listener hears once per document");
        assertEquals(0, events.get(0)[2]);
        assertEquals(rows.stream().mapToLong(ResultRow::tokensOut).sum(), events.get(0)[1]);
        assertTrue(events.get(0)[0] < rows.stream().mapToLong(ResultRow::tokensIn).sum(), "the document is counted once");
        double rowMillis = rows.stream().mapToDouble(r -> r.decodeMs()).sum() + rows.getFirst().prefillMs();
        assertTrue(events.get(0)[3] / 1e6 >= rowMillis, "the model time covers the reading and every task: "
                + events.get(0)[3] / 1e6 + " ms against " + rowMillis + " ms in the rows");
    }

    @Test
    void everyTaskContinuesFromTheSameReadingOfTheDocument() {
        TaskSpec question = TaskSpec.question("q1", "Who waited by the water?");
        ResultRow alone = processor.process(Document.of("d", TEXT), List.of(question)).getFirst();
        ResultRow afterOthers = processor.process(Document.of("d", TEXT),
                List.of(TaskSpec.summary(), TaskSpec.question("q0", "Anything?"), question)).get(2);
        // Were the snapshot shared rather than copied, the summary's tokens would change the answer.
        assertEquals(alone.text(), afterOthers.text());
        assertEquals(alone.tokensIn(), afterOthers.tokensIn());
    }

    @Test
    void unusableTextGivesAnErrorRowForEveryTask() {
        List<TaskSpec> tasks = List.of(TaskSpec.summary(), TaskSpec.question("q1", "Why?"));
        for (Document d : List.of(Document.of("blank", " \n\t "), Document.of("null", null),
                Document.of("broken", "half a surrogate \uD800 here"), new Document("unreadable", null, null, "the file is not valid UTF-8 text"))) {
            List<ResultRow> rows = processor.process(d, tasks);
            assertEquals(2, rows.size(), d.docId());
            for (ResultRow r : rows) {
                assertEquals(ResultRow.ERROR, r.status());
                assertTrue(r.error() != null && !r.error().isBlank());
                assertNull(r.text());
                assertEquals(d.docId(), r.docId());
            }
        }
        assertEquals("the file is not valid UTF-8 text",
                processor.process(new Document("u", null, "x", "the file is not valid UTF-8 text"), tasks).getFirst().error());
        assertTrue(events.stream().allMatch(e -> e[2] == 2), "each document reports its two error rows");
        assertTrue(events.stream().allMatch(e -> e[3] == 0), "a document the model never saw took none of its time");
    }

    @Test
    void aFailingTaskFailsAloneAndTheOthersStillAnswer() {
        List<ResultRow> rows = processor.process(Document.of("d", TEXT),
                List.of(TaskSpec.question("empty", " "), TaskSpec.summary()));
        assertEquals(ResultRow.ERROR, rows.get(0).status());
        assertTrue(rows.get(0).error().contains("the question is empty"), rows.get(0).error());
        assertEquals(ResultRow.OK, rows.get(1).status());
    }

    @Test
    void noTasksNoRows() {
        assertEquals(List.of(), processor.process(Document.of("d", TEXT), List.of()));
        assertTrue(events.isEmpty());
    }

    @Test
    void theModelIsOpenedOncePerJvmAndSettingsThatOnlyShapeTheCacheShareIt() {
        JobSettings other = JobSettings.of(Map.of("model", TestCorpus.MODEL.toString(), "cache", "window"));
        assertSame(ExecutorModel.get(SETTINGS), ExecutorModel.get(SETTINGS));
        assertSame(ExecutorModel.get(SETTINGS), ExecutorModel.get(other));
    }
}
