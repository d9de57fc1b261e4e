package cascadelm.spark.core;

import cascadelm.model.cache.CacheSettings;
import cascadelm.model.cache.Caches;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.llama.ModelSessions;
import cascadelm.model.cache.KvCache;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Prompts;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * The executor's work as a plain function: a document and its tasks in, exactly one result row per task
 * out. The document is read once through the cache (strided prefill), the cache is snapshotted, and every
 * task continues from its own copy of the snapshot (its prompt, then greedy decoding). Whatever goes wrong
 * with one document or one task becomes an error row with the reason; nothing is dropped and nothing
 * thrown, so one bad book never fails a job. That holds for any failure of the backend too (a GPU out of
 * memory, a failed kernel launch, the Java heap exhausted by one document's buffers): the document's rows
 * say so, and the next document runs as usual.
 */
public final class DocumentProcessor {
    private final OpenModel open;
    private final JobSettings settings;
    private final CacheSettings cacheSettings;
    private final ProcessingListener listener;
    private final String cacheDescription;

    public DocumentProcessor(OpenModel open, JobSettings settings, ProcessingListener listener) {
        this.open = open;
        this.settings = settings;
        this.cacheSettings = settings.cache();
        this.listener = listener;
        ModelConfig c = open.model().config();
        // Described from a host-side twin: the real caches may live in GPU memory.
        this.cacheDescription = Caches.create(cacheSettings, c.layers(), c.heads(), c.kvHeads(), c.headDim(), 1).describe();
    }

    public List<ResultRow> process(Document doc, List<TaskSpec> tasks) {
        if (tasks.isEmpty()) return List.of();
        String problem = doc.problem() != null ? doc.problem() : TextCheck.problem(doc.text());
        Outcome outcome = problem != null
                ? new Outcome(errors(doc.docId(), tasks, problem), 0)
                : open.exclusive(() -> timed(() -> read(doc, tasks)));
        long out = 0;
        int errors = 0;
        for (ResultRow r : outcome.rows()) {
            out += r.tokensOut();
            if (!r.ok()) errors++;
        }
        listener.documentDone(outcome.tokensRead(), out, errors, outcome.modelNanos());
        return outcome.rows();
    }

    /**
     * The rows of one document, the tokens that went through the model to make them (the document once), and
     * how long the document held the model.
     */
    private record Outcome(List<ResultRow> rows, long tokensRead, long modelNanos) {
        Outcome(List<ResultRow> rows, long tokensRead) {
            this(rows, tokensRead, 0);
        }
    }

    /** Inside {@link OpenModel#exclusive}: the time measured excludes waiting for another task's document. */
    private static Outcome timed(java.util.function.Supplier<Outcome> work) {
        long t0 = System.nanoTime();
        Outcome o = work.get();
        return new Outcome(o.rows(), o.tokensRead(), System.nanoTime() - t0);
    }

    private Outcome read(Document doc, List<TaskSpec> tasks) {
        Tokenizer tokenizer = open.model().tokenizer();
        int[] document;
        List<int[]> prompts = new ArrayList<>(tasks.size());
        ModelSession session = null;
        long prefillNanos;
        try {
            document = Prompts.plain(tokenizer, settings.documentPrefix(doc.title()) + doc.text());
            if (document.length > settings.maxDocumentTokens()) {
                // The cache keeps memory flat whatever the length; this bounds the time one document takes.
                return new Outcome(errors(doc.docId(), tasks, "the document has " + document.length
                        + " tokens, more than max-document-tokens (" + settings.maxDocumentTokens() + "); raise that setting to read it"), 0);
            }
            int longest = document.length;
            for (TaskSpec t : tasks) {
                int[] p = promptTokens(tokenizer, t);   // null: this task cannot run, the others still do
                prompts.add(p);
                if (p != null) longest = Math.max(longest, p.length);
            }
            // A chunk buffer as long as the stride needs (maxChunk × model width floats, several of them);
            // short documents get a smaller one.
            session = ModelSessions.open(open.model(), open.backend(), newCache(document.length),
                    Math.min(cacheSettings.stride(), longest));
            long t0 = System.nanoTime();
            Generator.prefill(session, document);
            prefillNanos = System.nanoTime() - t0;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            if (session != null) {
                ModelSession failed = session;
                quietly(() -> failed.cache().release());
                quietly(failed::close);
            }
            return new Outcome(errors(doc.docId(), tasks, "reading the document failed: " + message(e)), 0);
        }

        KvCache snapshot = session.cache();
        List<ResultRow> rows = new ArrayList<>(tasks.size());
        long tokensRead = document.length;
        for (int i = 0; i < tasks.size(); i++) {
            TaskSpec task = tasks.get(i);
            try {
                // The last task may consume the snapshot itself: nothing continues from it afterwards.
                session.setCache(i == tasks.size() - 1 ? snapshot : snapshot.copy());
                int[] prompt = prompts.get(i);
                if (prompt == null) promptFor(task);    // throws the reason
                if (TaskSpec.QA.equals(task.task()) && prompt.length > settings.maxQuestionTokens()) {
                    throw new IllegalArgumentException("the answer prompt has " + prompt.length
                            + " tokens, more than max-question-tokens (" + settings.maxQuestionTokens() + ")");
                }
                Generator.Result r = Generator.generate(session, prompt, Sampler.greedy(), maxTokens(task),
                        tokenizer.stopTokens(), token -> { });
                rows.add(new ResultRow(doc.docId(), task.task(), task.questionId(), tokenizer.decode(r.tokens()).strip(),
                        document.length + prompt.length, r.tokens().length,
                        (prefillNanos + r.prefillNanos()) / 1e6, r.decodeNanos() / 1e6,
                        open.backend().name(), open.name(), cacheDescription, ResultRow.OK, null));
                tokensRead += prompt.length;
            } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
                rows.add(error(task.key(doc.docId()), "task failed: " + message(e)));
            } finally {
                // GPU caches hold device memory: each task's copy goes as soon as the task is done.
                KvCache used = session.cache();
                if (used != snapshot) quietly(used::release);
            }
        }
        quietly(snapshot::release);
        quietly(session::close);
        return new Outcome(rows, tokensRead);
    }

    private int[] promptTokens(Tokenizer tokenizer, TaskSpec t) {
        try {
            return tokenizer.encode(promptFor(t));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private String promptFor(TaskSpec t) {
        if (t.problem() != null) throw new IllegalArgumentException(t.problem());
        return switch (t.task()) {
            case TaskSpec.SUMMARY -> settings.summaryPrompt();
            case TaskSpec.QA -> {
                if (t.question() == null || t.question().isBlank()) throw new IllegalArgumentException("the question is empty");
                yield settings.answerPrompt(t.question());
            }
            default -> throw new IllegalArgumentException("unknown task '" + t.task() + "'");
        };
    }

    private int maxTokens(TaskSpec t) {
        return TaskSpec.SUMMARY.equals(t.task()) ? settings.summaryMaxTokens() : settings.answerMaxTokens();
    }

    private KvCache newCache(int documentTokens) {
        ModelConfig c = open.model().config();
        int expected = documentTokens + Math.max(settings.summaryMaxTokens(), settings.answerMaxTokens()) + 64;
        return ModelSessions.cache(open.backend(), cacheSettings, c, expected);
    }

    private List<ResultRow> errors(String docId, List<TaskSpec> tasks, String reason) {
        List<ResultRow> rows = new ArrayList<>(tasks.size());
        for (TaskSpec t : tasks) rows.add(error(t.key(docId), reason));
        return rows;
    }

    private ResultRow error(ResultKey key, String reason) {
        return ResultRow.error(key, open.backend().name(), open.name(), cacheDescription, reason);
    }

    /**
     * Frees a cache or closes a session without letting a failure escape: after a device fault (a sticky CUDA
     * error) freeing fails too, and the rows made so far already say what went wrong; an exception here would
     * fail the whole Spark task instead of this document.
     */
    private static void quietly(Runnable release) {
        try {
            release.run();
        } catch (RuntimeException | OutOfMemoryError e) {
            System.err.println("cascade-lm: releasing a document's cache failed: " + message(e));
        }
    }

    private static String message(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m.lines().findFirst().orElse(""));
    }
}
