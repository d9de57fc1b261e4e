package cascadelm.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * The heap in use after a full collection, at intervals, beside a progress count (documents or tokens
 * done): what a memory test fits its trend to. Runs in the JVM under test (a child JVM of its own, so the
 * heap holds that run only).
 */
final class HeapSampler implements AutoCloseable {
    record Sample(double seconds, long progress, long usedBytes) {
        double usedMiB() {
            return usedBytes / 1048576.0;
        }
    }

    private final List<Sample> samples = new ArrayList<>();
    private final Thread thread;
    private volatile boolean stop;

    HeapSampler(long intervalMillis, LongSupplier progress) {
        long start = System.nanoTime();
        thread = Thread.ofPlatform().daemon().name("heap-sampler").start(() -> {
            while (!stop) {
                try {
                    Thread.sleep(intervalMillis);
                } catch (InterruptedException e) {
                    return;
                }
                sample(start, progress);
            }
        });
    }

    private void sample(long start, LongSupplier progress) {
        System.gc();
        Runtime rt = Runtime.getRuntime();
        Sample s = new Sample((System.nanoTime() - start) / 1e9, progress.getAsLong(), rt.totalMemory() - rt.freeMemory());
        synchronized (samples) {
            samples.add(s);
        }
    }

    List<Sample> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.interrupt();
        thread.join(10_000);
    }

    /** One line per sample: seconds, progress, MiB used. */
    void write(Path file) throws IOException {
        StringBuilder b = new StringBuilder("seconds,progress,used_mib\n");
        for (Sample s : samples()) b.append(String.format(Locale.ROOT, "%.1f,%d,%.1f%n", s.seconds(), s.progress(), s.usedMiB()));
        Files.writeString(file, b);
    }

    /** Samples from a CSV written by {@link #write}. */
    static List<Sample> read(Path file) throws IOException {
        List<Sample> out = new ArrayList<>();
        for (String line : Files.readAllLines(file).subList(1, Files.readAllLines(file).size())) {
            String[] f = line.split(",");
            out.add(new Sample(Double.parseDouble(f[0]), Long.parseLong(f[1]), (long) (Double.parseDouble(f[2]) * 1048576)));
        }
        return out;
    }
}
