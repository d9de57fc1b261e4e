package cascadelm.model.corpus;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes documents to a corpus directory: {@value #DOCUMENTS}, {@value #QUESTIONS} and, when asked,
 * {@value #TEXT_DIR}/&lt;doc_id&gt;.txt. The format is described in {@link CorpusGenerator}. Each
 * document's text streams from its {@link DocumentBuilder} into the JSON (and the text file), so memory
 * does not grow with the document.
 */
final class CorpusWriter implements Closeable {
    static final String DOCUMENTS = "documents.jsonl";
    static final String QUESTIONS = "questions.jsonl";
    static final String TEXT_DIR = "docs";

    /** What one written document amounted to. */
    record Written(long words, long chars, int questions) {
    }

    private static final int BUFFER = 1 << 16;

    private final Path dir;
    private final boolean textFiles;
    private final JsonGenerator documents;
    private final JsonGenerator questions;

    CorpusWriter(Path dir, boolean textFiles) throws IOException {
        this.dir = dir;
        this.textFiles = textFiles;
        if (textFiles) Files.createDirectories(dir.resolve(TEXT_DIR));
        // No separator between root values: each line ends with the newline written after its object.
        JsonFactory json = new JsonFactory().setRootValueSeparator(null);
        documents = json.createGenerator(new BufferedOutputStream(Files.newOutputStream(dir.resolve(DOCUMENTS)), BUFFER),
                JsonEncoding.UTF8);
        questions = json.createGenerator(new BufferedOutputStream(Files.newOutputStream(dir.resolve(QUESTIONS)), BUFFER),
                JsonEncoding.UTF8);
    }

    Written write(DocumentPlan plan) throws IOException {
        DocumentBuilder builder = new DocumentBuilder(plan);
        documents.writeStartObject();
        documents.writeStringField("doc_id", plan.docId());
        documents.writeStringField("title", plan.title());
        documents.writeFieldName("text");
        try (Writer copy = textFiles ? Files.newBufferedWriter(dir.resolve(TEXT_DIR).resolve(plan.docId() + ".txt"),
                StandardCharsets.UTF_8) : null) {
            documents.writeString(new DocumentReader(builder, copy), -1);
        }
        List<DocumentBuilder.PlacedFact> facts = builder.placedFacts();
        documents.writeStringField("summary", Summary.of(plan, builder.chapters(), facts));
        documents.writeArrayFieldStart("questions");
        for (DocumentBuilder.PlacedFact f : facts) {
            documents.writeStartObject();
            documents.writeStringField("question_id", f.questionId());
            documents.writeStringField("question", f.fact().question());
            documents.writeStringField("answer", f.fact().answer());
            documents.writeStringField("fact", f.fact().sentence());
            documents.writeNumberField("fact_offset", f.charOffset());
            documents.writeNumberField("fact_word", f.wordIndex());
            documents.writeEndObject();
        }
        documents.writeEndArray();
        documents.writeEndObject();
        documents.writeRaw('\n');

        for (DocumentBuilder.PlacedFact f : facts) {
            questions.writeStartObject();
            questions.writeStringField("doc_id", plan.docId());
            questions.writeStringField("question_id", f.questionId());
            questions.writeStringField("question", f.fact().question());
            questions.writeStringField("answer", f.fact().answer());
            questions.writeNumberField("fact_offset", f.charOffset());
            questions.writeNumberField("doc_chars", builder.chars());
            questions.writeNumberField("fact_word", f.wordIndex());
            questions.writeNumberField("doc_words", builder.words());
            questions.writeEndObject();
            questions.writeRaw('\n');
        }
        return new Written(builder.words(), builder.chars(), facts.size());
    }

    @Override
    public void close() throws IOException {
        try (questions) {
            documents.close();
        }
    }
}
