package cascadelm.spark;

import cascadelm.model.generate.Prompts;
import cascadelm.model.tokenizer.Tokenizer;
import cascadelm.spark.core.Document;
import cascadelm.spark.core.DocumentProcessor;
import cascadelm.spark.core.ExecutorModel;
import cascadelm.spark.core.JobSettings;
import cascadelm.spark.core.OpenModel;
import cascadelm.spark.core.ResultRow;
import cascadelm.spark.core.TaskSpec;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One document of N tokens through what an executor does (DocumentProcessor, the CPU backend, the
 * cascading cache), in a JVM with a small fixed heap; samples the heap after GC against the tokens read.
 * Run by {@link LongDocumentHeapTest}; arguments: tokens, samples CSV file.
 */
public final class LongDocumentProbe {
    public static void main(String[] args) throws Exception {
        int tokens = Integer.parseInt(args[0]);
        JobSettings settings = JobSettings.of(Map.of("model", TestCorpus.MODEL.toString(), "cache", "cascade",
                "cache-size", "512", "cascades", "4", "sinks", "16", "stride", "256", "summary-max-tokens", "8",
                "max-document-tokens", Integer.toString(Integer.MAX_VALUE)));
        OpenModel model = ExecutorModel.get(settings);
        String text = textOf(model.model().tokenizer(), tokens);
        AtomicLong read = new AtomicLong();
        ResultRow row;
        long t0 = System.nanoTime();
        try (HeapSampler sampler = new HeapSampler(1000, read::get)) {
            DocumentProcessor processor = new DocumentProcessor(model, settings, (in, out, errors, nanos) -> read.set(in));
            row = processor.process(Document.of("long", text), List.of(TaskSpec.summary())).getFirst();
            sampler.write(Path.of(args[1]));
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "probe: status=%s tokens_in=%d prefill_ms=%.0f seconds=%.1f max_heap_mib=%d error=%s%n",
                row.status(), row.tokensIn(), row.prefillMs(), seconds, Runtime.getRuntime().maxMemory() >> 20, row.error());
    }

    /** Varied sentences until the text is at least {@code tokens} tokens long. */
    static String textOf(Tokenizer tokenizer, int tokens) {
        String[] who = {"Mara", "the ferryman", "Ilse", "a grey cat", "the keeper", "old Tomas"};
        String[] did = {"waited by the water", "counted the apple trees", "painted the boat green", "watched the storm",
                "lit the lamp at dusk", "mended the nets"};
        StringBuilder b = new StringBuilder();
        int i = 0;
        long counted = 0;
        while (true) {
            StringBuilder chunk = new StringBuilder();
            for (int k = 0; k < 2000; k++, i++) {
                chunk.append("On day ").append(i).append(' ').append(who[i % who.length]).append(' ')
                        .append(did[(i / who.length) % did.length]).append(". ");
            }
            b.append(chunk);
            // Chunks are counted alone (each ends in a space, so joining them hardly changes the count); the
            // whole text is counted once at the end.
            counted += tokenizer.encode(chunk.toString()).length;
            if (counted >= tokens && Prompts.plain(tokenizer, b.toString()).length >= tokens) return b.toString();
        }
    }
}
