package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;

import org.junit.jupiter.api.Test;

/** The hand-off of {@link ParallelFor}: every task exactly once, on valid workers, failures passed on. */
class ParallelForTest {
    @Test
    void everyTaskRunsOnceInManyJobsBackToBackAndAfterPauses() throws InterruptedException {
        try (ParallelFor p = new ParallelFor(3)) {
            for (int job = 0; job < 3000; job++) {
                int count = job % 7; // 0 (nothing), 1 (caller only), 2 and 3 (some helpers), more than the workers
                AtomicIntegerArray runs = new AtomicIntegerArray(count);
                p.run(count, (task, worker) -> {
                    assertTrue(worker >= 0 && worker < 3);
                    runs.incrementAndGet(task);
                });
                for (int t = 0; t < count; t++) {
                    assertEquals(1, runs.get(t), "job " + job + " task " + t);
                }
                if (job % 500 == 0) {
                    Thread.sleep(2); // idle workers between jobs
                }
            }
        }
    }

    @Test
    void aHelpersFailureReachesTheCaller() {
        try (ParallelFor p = new ParallelFor(2)) {
            IllegalStateException boom = new IllegalStateException("boom");
            for (int round = 0; round < 50; round++) {
                // Whatever order the two threads claim the tasks in, the helper fails and the caller does not: a
                // task on the caller waits until the helper has started its own (which the blocked caller leaves
                // to it), and a task on the helper throws. So every round must deliver the helper's exception.
                java.util.concurrent.CountDownLatch helperStarted = new java.util.concurrent.CountDownLatch(1);
                IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> p.run(2, (task, worker) -> {
                    if (worker == 0) {
                        try {
                            if (!helperStarted.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                                throw new AssertionError("no helper took the other task within 30 s");
                            }
                        } catch (InterruptedException e) {
                            throw new AssertionError(e);
                        }
                    } else {
                        helperStarted.countDown();
                        throw boom;
                    }
                }));
                assertSame(boom, thrown, "round " + round);
            }
            // and the workers still serve the next job
            AtomicIntegerArray runs = new AtomicIntegerArray(10);
            p.run(10, (task, worker) -> runs.incrementAndGet(task));
            for (int t = 0; t < 10; t++) assertEquals(1, runs.get(t));
        }
    }

    @Test
    void theCallersFailureIsThrownAsItIsWhileHelpersRun() {
        try (ParallelFor p = new ParallelFor(2)) {
            Error e = new AssertionError("caller");
            AtomicIntegerArray ran = new AtomicIntegerArray(64);
            Error thrown = assertThrows(AssertionError.class, () -> p.run(64, (task, worker) -> {
                ran.incrementAndGet(task);
                if (worker == 0) throw e;
                try {
                    Thread.sleep(1); // the helper is slow, so the caller surely takes a task
                } catch (InterruptedException ie) {
                    throw new AssertionError(ie);
                }
            }));
            assertSame(e, thrown);
            int total = 0;
            for (int t = 0; t < 64; t++) {
                assertTrue(ran.get(t) <= 1, "task " + t + " ran twice");
                total += ran.get(t);
            }
            assertTrue(total < 64, "the helper stopped claiming tasks after the caller failed");
        }
    }
}
