package cascadelm.model.corpus;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CorpusGeneratorTest {
    /** Small and varied: sizes drawn in [2K, 40K] words, 3 to 6 questions each, text files on. */
    private static final CorpusSpec SMALL = CorpusSpec.of(7, 6, 2_000, 40_000, 0, true);

    @TempDir
    static Path shared;

    private static Path small;
    private static List<JsonNode> documents;

    @BeforeAll
    static void generateOnce() throws IOException {
        small = CorpusFiles.generate(SMALL, shared.resolve("small"));
        documents = CorpusFiles.documents(small);
    }

    @Test
    void sameSeedWritesByteIdenticalFiles(@TempDir Path dir) throws IOException {
        Path again = CorpusFiles.generate(SMALL, dir.resolve("again"));
        assertIdentical(small, again);
    }

    @Test
    void differentSeedWritesDifferentText(@TempDir Path dir) throws IOException {
        Path other = CorpusFiles.generate(CorpusSpec.of(8, 6, 2_000, 40_000, 0, true), dir.resolve("other"));
        List<JsonNode> others = CorpusFiles.documents(other);
        for (int i = 0; i < documents.size(); i++) {
            assertNotEquals(documents.get(i).get("text").asText(), others.get(i).get("text").asText());
        }
    }

    @Test
    void committedSampleIsWhatTheSamplePresetWrites(@TempDir Path dir) throws IOException {
        Path committed = repositoryRoot().resolve("sample-data/corpus");
        assertTrue(Files.isDirectory(committed), "missing " + committed);
        assertIdentical(committed, CorpusFiles.generate(CorpusSpec.sample(), dir.resolve("sample")));
    }

    @Test
    void documentsHaveTheDocumentedFieldsInOrder() {
        for (JsonNode d : documents) {
            assertEquals(List.of("doc_id", "title", "text", "summary", "questions"), fieldNames(d));
            for (JsonNode q : d.get("questions")) {
                assertEquals(List.of("question_id", "question", "answer", "fact", "fact_offset", "fact_word"), fieldNames(q));
            }
        }
    }

    @Test
    void everyFactSentenceIsAtItsOffsetAndHoldsTheAnswer() {
        for (JsonNode d : documents) {
            String text = d.get("text").asText();
            for (JsonNode q : d.get("questions")) {
                String fact = q.get("fact").asText();
                int offset = q.get("fact_offset").asInt();
                assertTrue(text.startsWith(fact, offset), q.toString());
                assertTrue(fact.contains(q.get("answer").asText()), q.toString());
                assertEquals(CorpusFiles.words(text.substring(0, offset)), q.get("fact_word").asLong(), q.toString());
            }
        }
    }

    @Test
    void everyQuestionHasExactlyOneFactThatAnswersIt() {
        for (JsonNode d : documents) {
            String text = d.get("text").asText();
            List<FactScanner.Found> facts = FactScanner.facts(text);
            // No fact verb hides in a sentence the scanner does not see (narration must not use them).
            assertEquals(FactScanner.factVerbs(text), facts.size(), d.get("doc_id").asText());
            assertTrue(facts.size() > d.get("questions").size(), "distractors are there too");
            for (JsonNode q : d.get("questions")) {
                String key = FactScanner.key(q.get("question").asText());
                List<FactScanner.Found> answering = facts.stream().filter(f -> f.key().equals(key)).toList();
                assertEquals(1, answering.size(), q + " answered by " + answering);
                assertEquals(q.get("fact_offset").asInt(), answering.getFirst().offset());
                assertEquals(q.get("answer").asText(), answering.getFirst().answer());
            }
        }
    }

    @Test
    void requestedLengthsAreMet(@TempDir Path dir) throws IOException {
        for (long target : new long[]{2_000, 12_345, 150_000}) {
            Path out = CorpusFiles.generate(CorpusSpec.of(target, 2, target, target, 0, false), dir.resolve("w" + target));
            for (JsonNode d : CorpusFiles.documents(out)) {
                long words = CorpusFiles.words(d.get("text").asText());
                assertEquals(target, words, target * 0.01, "document of " + target + " words");
            }
        }
        for (JsonNode d : documents) { // drawn sizes stay inside the range
            long words = CorpusFiles.words(d.get("text").asText());
            assertTrue(words >= 2_000 * 0.99 && words <= 40_000 * 1.01, "words " + words);
        }
    }

    /** --fact-depth: the planted facts go in the first share of the text, spread over it; distractors stay everywhere. */
    @Test
    void aFactDepthPlantsEveryQuestionsFactEarly(@TempDir Path dir) throws IOException {
        Path out = CorpusFiles.generate(CorpusSpec.of(11, 2, 100_000, 100_000, 40, false, 0.05), dir.resolve("early"));
        for (JsonNode d : CorpusFiles.documents(out)) {
            long words = CorpusFiles.words(d.get("text").asText());
            JsonNode qs = d.get("questions");
            assertEquals(40, qs.size());
            long last = 0;
            for (JsonNode q : qs) last = Math.max(last, q.get("fact_word").asLong());
            assertTrue(last <= 0.05 * words && last > 0.04 * words, "last planted fact at word " + last + " of " + words);
        }
        assertThrows(IllegalArgumentException.class, () -> CorpusSpec.of(11, 2, 1_000, 1_000, 4, false, 0.96));
        assertThrows(IllegalArgumentException.class, () -> CorpusSpec.of(11, 2, 1_000, 1_000, 4, false, 0));
        assertThrows(IllegalArgumentException.class, () -> CorpusSpec.of(11, 2, 1_000, 1_000, 4, false, Double.NaN));
    }

    @Test
    void factsAreSpreadThroughTheDocument() {
        for (JsonNode d : documents) {
            int chars = d.get("text").asText().length();
            JsonNode qs = d.get("questions");
            assertTrue(qs.size() >= 3 && qs.size() <= 6, "3 to 6 questions: " + qs.size());
            long first = qs.get(0).get("fact_offset").asLong();
            long last = qs.get(qs.size() - 1).get("fact_offset").asLong();
            assertTrue(first < chars / 3 && last > chars / 2, "first at " + first + ", last at " + last + " of " + chars);
            for (int i = 1; i < qs.size(); i++) {
                assertTrue(qs.get(i).get("fact_offset").asLong() > qs.get(i - 1).get("fact_offset").asLong(), "in text order");
            }
        }
    }

    @Test
    void summaryTellsThePlantedFactsInTheirOrder() {
        for (JsonNode d : documents) {
            String summary = d.get("summary").asText();
            int from = 0;
            for (JsonNode q : d.get("questions")) {
                int at = summary.indexOf(q.get("fact").asText(), from);
                assertTrue(at >= from, "fact missing or out of order in summary: " + q.get("fact") + " / " + summary);
                from = at + 1;
            }
            assertTrue(summary.startsWith("This is the story of ") && summary.endsWith("."), summary);
            assertTrue(summary.split("\\. ").length <= 30, "a summary, not a retelling");
        }
    }

    @Test
    void questionsFileMatchesTheDocuments() throws IOException {
        List<JsonNode> questions = CorpusFiles.lines(small.resolve(CorpusWriter.QUESTIONS));
        Iterator<JsonNode> it = questions.iterator();
        for (JsonNode d : documents) {
            for (JsonNode q : d.get("questions")) {
                JsonNode line = it.next();
                assertEquals(List.of("doc_id", "question_id", "question", "answer", "fact_offset", "doc_chars",
                        "fact_word", "doc_words"), fieldNames(line));
                assertEquals(d.get("doc_id").asText(), line.get("doc_id").asText());
                for (String f : List.of("question_id", "question", "answer", "fact_offset", "fact_word")) {
                    assertEquals(q.get(f), line.get(f), f);
                }
                assertEquals(d.get("text").asText().length(), line.get("doc_chars").asLong());
                assertEquals(CorpusFiles.words(d.get("text").asText()), line.get("doc_words").asLong());
            }
        }
        assertTrue(!it.hasNext(), "no extra question lines");
    }

    @Test
    void textFilesHoldExactlyTheTextField() throws IOException {
        for (JsonNode d : documents) {
            Path file = small.resolve("docs").resolve(d.get("doc_id").asText() + ".txt");
            assertEquals(d.get("text").asText(), Files.readString(file, StandardCharsets.UTF_8));
        }
        assertEquals(documents.size(), CorpusFiles.files(small.resolve("docs")).size());
    }

    @Test
    void textIsPlainAsciiWithChaptersAndATitle() {
        for (JsonNode d : documents) {
            String text = d.get("text").asText();
            assertTrue(text.chars().allMatch(c -> c == '\n' || (c >= 0x20 && c < 0x7f)), "ASCII only");
            assertTrue(text.startsWith(d.get("title").asText() + "\n\nChapter 1. "), text.substring(0, 80));
            assertTrue(text.endsWith("The end.\n"));
            assertTrue(!text.contains("  ") && !text.contains("\n\n\n"), "single spaces, single blank lines");
        }
    }

    @Test
    void aDocumentDependsOnlyOnTheSeedAndItsIndex(@TempDir Path dir) throws IOException {
        Path fewer = CorpusFiles.generate(CorpusSpec.of(7, 2, 2_000, 40_000, 0, true), dir.resolve("fewer"));
        List<JsonNode> prefix = CorpusFiles.documents(fewer);
        assertEquals(documents.subList(0, 2), prefix);
    }

    static void assertIdentical(Path expected, Path actual) throws IOException {
        List<Path> files = CorpusFiles.files(expected);
        assertEquals(files, CorpusFiles.files(actual));
        for (Path f : files) {
            assertArrayEquals(Files.readAllBytes(expected.resolve(f)), Files.readAllBytes(actual.resolve(f)), f.toString());
        }
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static Path repositoryRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("sample-data"))) return p;
        }
        throw new AssertionError("no sample-data above " + Path.of("").toAbsolutePath());
    }
}
