package cascadelm.model.cli;

import cascadelm.model.corpus.CorpusGenerator;
import cascadelm.model.corpus.CorpusSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code cascade-lm corpus}: writes a generated corpus with known facts, questions and summaries (format in
 * {@link CorpusGenerator}). {@code --sample} is the preset that makes the committed sample-data/corpus.
 */
@Command(name = "corpus", mixinStandardHelpOptions = true,
        description = {"Generate book-length documents with planted facts, questions, gold answers and summaries.",
                "Writes DIR/documents.jsonl, DIR/questions.jsonl and, with --text-files, DIR/docs/<doc_id>.txt.",
                "Sizes are in words (about 0.75 words per token)."})
final class CorpusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output directory (created if missing).")
    Path out;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--documents", defaultValue = "10", paramLabel = "N",
            description = "Number of documents (default: ${DEFAULT-VALUE}).")
    int documents;

    @Option(names = "--min-words", defaultValue = "1500", paramLabel = "A",
            description = "Smallest document, in words; at least " + CorpusSpec.MIN_WORDS + " (default: ${DEFAULT-VALUE}).")
    long minWords;

    @Option(names = "--max-words", defaultValue = "800000", paramLabel = "B",
            description = "Largest document, in words; sizes are drawn log-uniformly in [A, B] (default: ${DEFAULT-VALUE}).")
    long maxWords;

    @Option(names = "--facts-per-doc", defaultValue = "0", paramLabel = "K",
            description = "Planted facts, each with a question, per document; 0 = 3 to 6 (default: ${DEFAULT-VALUE}).")
    int factsPerDoc;

    @Option(names = "--fact-depth", defaultValue = "0.95", paramLabel = "F",
            description = "Plant the facts with questions in the first F of each document, a fraction in (0, 0.95];"
                    + " distractors still go anywhere. Early facts give long fact-to-question distances (default: ${DEFAULT-VALUE}).")
    double factDepth;

    @Option(names = "--text-files", description = "Also write each document as DIR/docs/<doc_id>.txt.")
    boolean textFiles;

    @Option(names = "--sample", description = "The committed sample corpus (fixed seed, 5 documents of about 3K to 160K words, text files).")
    boolean sample;

    @Option(names = "--overwrite", description = "Replace the corpus files of a non-empty DIR (other files are kept).")
    boolean overwrite;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    private static final List<String> SAMPLE_FIXES = List.of("--seed", "--documents", "--min-words", "--max-words",
            "--facts-per-doc", "--fact-depth", "--text-files");

    @Override
    public Integer call() throws IOException {
        CorpusSpec corpus = sample ? sampleSpec() : customSpec();
        prepare(out);
        PrintWriter err = spec.commandLine().getErr();
        long[] lastReport = {System.nanoTime()};
        CorpusGenerator.Result r = CorpusGenerator.generate(corpus, out, (done, words) -> {
            long now = System.nanoTime();
            if (now - lastReport[0] > 5_000_000_000L) { // a line every 5 s on long runs, none on short ones
                err.printf(Locale.ROOT, "corpus: %d/%d documents, %,d words%n", done, corpus.documents(), words);
                err.flush();
                lastReport[0] = now;
            }
        });
        PrintWriter o = spec.commandLine().getOut();
        o.printf(Locale.ROOT, "wrote %d documents, %,d words, %,d characters, %d questions to %s in %.1f s (%,.0f words/s)%n",
                r.documents(), r.words(), r.chars(), r.questions(), out, r.nanos() / 1e9, r.wordsPerSecond());
        o.flush();
        return 0;
    }

    private CorpusSpec sampleSpec() {
        for (String option : SAMPLE_FIXES) {
            if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new Main.UsageException(option + " cannot be combined with --sample, which fixes it");
            }
        }
        return CorpusSpec.sample();
    }

    private CorpusSpec customSpec() {
        if (documents < 1) throw usage("--documents", documents, "must be at least 1");
        if (minWords < CorpusSpec.MIN_WORDS) throw usage("--min-words", minWords, "must be at least " + CorpusSpec.MIN_WORDS);
        if (maxWords < CorpusSpec.MIN_WORDS) throw usage("--max-words", maxWords, "must be at least " + CorpusSpec.MIN_WORDS);
        if (minWords > maxWords) {
            throw new Main.UsageException("--min-words (" + minWords + ") must not exceed --max-words (" + maxWords + ")");
        }
        if (factsPerDoc < 0 || factsPerDoc > CorpusSpec.MAX_FACTS) {
            throw usage("--facts-per-doc", factsPerDoc, "must be in 0.." + CorpusSpec.MAX_FACTS + " (0 = 3 to 6)");
        }
        if (!(factDepth > 0 && factDepth <= CorpusSpec.MAX_FACT_DEPTH)) {
            throw new Main.UsageException("invalid value " + factDepth + " for --fact-depth: must be in (0, "
                    + CorpusSpec.MAX_FACT_DEPTH + "]");
        }
        return CorpusSpec.of(seed, documents, minWords, maxWords, factsPerDoc, textFiles, factDepth);
    }

    private static Main.UsageException usage(String option, long value, String rule) {
        return new Main.UsageException("invalid value " + value + " for " + option + ": " + rule);
    }

    /** Creates the directory, or checks that it may be written; a non-empty one only with --overwrite,
     * and then only the files a corpus consists of are removed, never anything else that is there. */
    private void prepare(Path dir) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new Main.UsageException("--out: not a directory: " + dir);
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Main.UsageException("--out: cannot create directory " + dir + " (" + Main.oneLine(e) + ")");
        }
        if (!Files.isWritable(dir)) throw new Main.UsageException("--out: directory is not writable: " + dir);
        try {
            boolean empty;
            try (Stream<Path> entries = Files.list(dir)) {
                empty = entries.findAny().isEmpty();
            }
            if (empty) return;
            if (!overwrite) {
                throw new Main.UsageException("--out: directory " + dir + " is not empty; pass --overwrite to replace the corpus there");
            }
            Files.deleteIfExists(dir.resolve("documents.jsonl"));
            Files.deleteIfExists(dir.resolve("questions.jsonl"));
            Path docs = dir.resolve("docs");
            if (Files.isDirectory(docs)) {
                try (DirectoryStream<Path> texts = Files.newDirectoryStream(docs, "*.txt")) {
                    for (Path t : texts) Files.delete(t);
                }
            }
        } catch (IOException e) {
            throw new Main.UsageException("--out: cannot prepare " + dir + " (" + Main.oneLine(e) + ")");
        }
    }
}
