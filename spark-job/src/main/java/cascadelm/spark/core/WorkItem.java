package cascadelm.spark.core;

import java.io.Serializable;
import java.util.List;

/** A document with the tasks still to do for it: the unit one executor call processes. */
public record WorkItem(Document document, List<TaskSpec> tasks) implements Serializable {
    /** Characters are a cheap stand-in for tokens (about 4 per token in English with BPE vocabularies). */
    public static final int CHARS_PER_TOKEN = 4;

    /** Estimated cost in tokens: reading the document plus the prompts and generated tokens of its tasks. */
    public long estimatedTokens(JobSettings settings) {
        long read = document.text() == null ? 0 : document.text().length() / CHARS_PER_TOKEN;
        long generate = 0;
        for (TaskSpec t : tasks) {
            generate += TaskSpec.SUMMARY.equals(t.task()) ? settings.summaryMaxTokens() : settings.answerMaxTokens();
        }
        // A generated token costs a whole forward pass, a read token a share of a strided one.
        return read + generate * GENERATED_TOKEN_WEIGHT;
    }

    /** Measured on the CPU backend with a stride of 1024: decode is roughly 20× slower per token. */
    private static final int GENERATED_TOKEN_WEIGHT = 20;
}
