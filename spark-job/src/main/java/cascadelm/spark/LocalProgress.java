package cascadelm.spark;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Live counts for the progress bar of a local run. In local mode the tasks run in the driver's JVM, so
 * these counters move with every document, where accumulators reach the driver only as tasks end.
 * Executors of a cluster update their own copies, which nobody reads.
 */
final class LocalProgress {
    static final AtomicLong DOCUMENTS = new AtomicLong();
    static final AtomicLong TOKENS = new AtomicLong();

    private LocalProgress() {
    }

    static void reset() {
        DOCUMENTS.set(0);
        TOKENS.set(0);
    }
}
