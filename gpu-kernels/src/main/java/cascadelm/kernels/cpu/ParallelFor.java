package cascadelm.kernels.cpu;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs task indices {@code [0, count)} on a fixed set of workers: the calling thread plus a pool of
 * {@code threads − 1} daemon threads. Tasks are claimed one at a time from a shared counter, so uneven
 * tasks (causal attention rows, the last row tile) balance themselves.
 */
final class ParallelFor implements AutoCloseable {
    /** A task body; {@code worker} in {@code [0, threads)} indexes per-worker scratch buffers. */
    @FunctionalInterface
    interface Body {
        void run(int task, int worker);
    }

    private final int threads;
    private final ExecutorService pool;
    private final Future<?>[] pending;

    ParallelFor(int threads) {
        this.threads = threads <= 0 ? Runtime.getRuntime().availableProcessors() : threads;
        this.pool = this.threads == 1 ? null : Executors.newFixedThreadPool(this.threads - 1, r -> {
            Thread t = new Thread(r, "cpu-backend-worker");
            t.setDaemon(true);
            return t;
        });
        this.pending = new Future<?>[this.threads - 1];
    }

    int threads() {
        return threads;
    }

    void run(int count, Body body) {
        if (count <= 0) {
            return;
        }
        int helpers = Math.min(threads, count) - 1;
        if (helpers == 0) {
            for (int i = 0; i < count; i++) {
                body.run(i, 0);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        for (int h = 0; h < helpers; h++) {
            int worker = h + 1;
            pending[h] = pool.submit(() -> drain(next, count, body, worker));
        }
        Throwable failure = null;
        try {
            drain(next, count, body, 0);
        } catch (RuntimeException | Error e) {
            failure = e;
            next.set(count); // stop the helpers claiming more work
        }
        for (int h = 0; h < helpers; h++) {
            try {
                pending[h].get();
            } catch (ExecutionException e) {
                if (failure == null) failure = e.getCause();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) failure = e;
            }
            pending[h] = null;
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error err) throw err;
        if (failure != null) throw new IllegalStateException(failure);
    }

    private static void drain(AtomicInteger next, int count, Body body, int worker) {
        for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
            body.run(i, worker);
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
