package cascadelm.spark.core;

import cascadelm.kernels.Backend;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.llama.LlamaModel;
import cascadelm.spark.TestCorpus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A backend that fails on one document — as a GPU backend does when it runs out of device memory or a
 * kernel launch fails — must cost that document's rows only: they become error rows naming the failure,
 * and the next document on the same executor (same open model, same backend) is processed as usual.
 * The faults are injected around the real CPU backend, so the documents before and after are real work.
 */
class BackendFaultTest {
    private static final JobSettings SETTINGS = JobSettings.of(Map.of("model", TestCorpus.MODEL.toString(),
            "summary-max-tokens", "6", "answer-max-tokens", "4", "cache-size", "128", "sinks", "8", "stride", "64"));
    private static final String TEXT = "The keeper lit the lamp at dusk. Mara waited by the water. ".repeat(20);

    private static LlamaModel model;
    private static CpuBackend cpu;
    /** Fails the backend call with this number (counted from 1 since the last arm()); 0 = never. */
    private static final AtomicInteger failAtCall = new AtomicInteger();
    private static final AtomicInteger calls = new AtomicInteger();
    private static volatile Supplier<Throwable> fault;

    @BeforeAll
    static void open() throws IOException {
        model = LlamaModel.open(TestCorpus.MODEL);
        cpu = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        cpu.close();
        model.close();
    }

    private static Backend faulty() {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[]{Backend.class}, (proxy, method, args) -> {
            if (!method.getName().equals("name") && !method.getName().equals("close")
                    && calls.incrementAndGet() == failAtCall.get()) {
                throw fault.get();
            }
            try {
                return method.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private static void arm(int call, Supplier<Throwable> f) {
        calls.set(0);
        fault = f;
        failAtCall.set(call);
    }

    @Test
    void aFailureWhileReadingGivesTheDocumentsErrorRowsAndTheNextDocumentRuns() {
        DocumentProcessor processor = new DocumentProcessor(new OpenModel(model, faulty(), "tiny.gguf"), SETTINGS, ProcessingListener.NONE);
        List<TaskSpec> tasks = List.of(TaskSpec.summary(), TaskSpec.question("q1", "Who lit the lamp?"));
        arm(0, null);
        List<ResultRow> before = processor.process(Document.of("before", TEXT), tasks);
        int total = calls.get();

        // Failing early (the document's read), then late (in the last task's decoding), then with an Error.
        List<Supplier<Throwable>> faults = List.of(
                () -> new IllegalStateException("CUDA error 2: out of memory (cuMemAlloc, 512 MiB)"),
                () -> new RuntimeException("CUDA error 719: unspecified launch failure"),
                () -> new OutOfMemoryError("Java heap space"));
        for (int i = 0; i < faults.size(); i++) {
            arm(List.of(5, total - 3, total / 2).get(i), faults.get(i));
            List<ResultRow> failed = processor.process(Document.of("failing" + i, TEXT), tasks);
            int injected = calls.get();
            assertEquals(2, failed.size(), "one row per task, whatever failed");
            String expected = faults.get(i).get().getMessage();
            assertTrue(failed.stream().anyMatch(r -> ResultRow.ERROR.equals(r.status()) && r.error().contains(expected)), failed.toString());
            for (ResultRow r : failed) {
                assertEquals("failing" + i, r.docId());
                if (r.status().equals(ResultRow.ERROR)) assertNull(r.text());
            }
            assertTrue(injected >= failAtCall.get(), "the fault was reached (" + injected + " calls)");

            arm(0, null);
            List<ResultRow> after = processor.process(Document.of("after" + i, TEXT), tasks);
            assertEquals(before.stream().map(ResultRow::text).toList(), after.stream().map(ResultRow::text).toList(),
                    "the next document on the same backend gives exactly what it gives without faults");
            assertTrue(after.stream().allMatch(ResultRow::ok), after.toString());
        }
    }

    @Test
    void aFailureDuringOneTaskFailsThatTaskOnly() {
        DocumentProcessor processor = new DocumentProcessor(new OpenModel(model, faulty(), "tiny.gguf"), SETTINGS, ProcessingListener.NONE);
        List<TaskSpec> tasks = List.of(TaskSpec.summary(), TaskSpec.question("q1", "Who lit the lamp?"));
        arm(0, null);
        processor.process(Document.of("count", TEXT), List.of(TaskSpec.summary()));
        int readAndSummary = calls.get();
        // The first call after the summary's last one: inside the question's own prompt.
        arm(readAndSummary + 3, () -> new IllegalStateException("CUDA error 700: an illegal memory access was encountered"));
        List<ResultRow> rows = processor.process(Document.of("d", TEXT), tasks);
        assertEquals(ResultRow.OK, rows.get(0).status(), rows.toString());
        assertEquals(ResultRow.ERROR, rows.get(1).status(), rows.toString());
        assertTrue(rows.get(1).error().startsWith("task failed: IllegalStateException: CUDA error 700"), rows.get(1).error());
    }
}
