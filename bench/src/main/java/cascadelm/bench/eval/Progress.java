package cascadelm.bench.eval;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Tokens done out of a known total, on stderr: a live bar when stderr is a terminal, otherwise a plain line
 * every few seconds (logs and CI keep readable output, no carriage returns).
 */
public interface Progress extends AutoCloseable {

    void advance(long tokens);

    @Override
    void close();

    /** A bar on {@code terminal}, or lines on {@code err} every {@code everyMillis} when that is null. */
    static Progress create(String task, long totalTokens, PrintStream terminal, PrintWriter err, long everyMillis) {
        return terminal != null ? new Bar(task, totalTokens, terminal) : new Lines(task, totalTokens, err, everyMillis);
    }

    /**
     * The JVM's own console is the best signal that a person is watching; it tells about stdin/stdout, and
     * stderr is rarely redirected alone. CASCADE_LM_PROGRESS=lines forces lines.
     */
    static boolean stderrIsTerminal() {
        if ("lines".equals(System.getenv("CASCADE_LM_PROGRESS"))) return false;
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    final class Bar implements Progress {
        private final ProgressBar bar;

        Bar(String task, long total, PrintStream out) {
            bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setUnit(" tok", 1)
                    .showSpeed().setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new ConsoleProgressBarConsumer(out)).build();
        }

        @Override
        public void advance(long tokens) {
            bar.stepBy(tokens);
        }

        @Override
        public void close() {
            bar.close();
        }
    }

    final class Lines implements Progress {
        private final String task;
        private final long total;
        private final PrintWriter err;
        private final long everyNanos;
        private final long start = System.nanoTime();
        private long done;
        private long lastPrint = start;

        Lines(String task, long total, PrintWriter err, long everyMillis) {
            this.task = task;
            this.total = total;
            this.err = err;
            this.everyNanos = everyMillis * 1_000_000;
        }

        @Override
        public void advance(long tokens) {
            done += tokens;
            long now = System.nanoTime();
            if (now - lastPrint >= everyNanos) {
                lastPrint = now;
                print(now);
            }
        }

        @Override
        public void close() {
            print(System.nanoTime());
        }

        private void print(long now) {
            double seconds = Math.max(1e-9, (now - start) / 1e9);
            double rate = done / seconds;
            String eta = rate > 0 && done < total ? duration((total - done) / rate) : "0s";
            err.println(String.format(Locale.ROOT, "%s: %,d / %,d tokens (%.0f%%), %,.0f tok/s, ETA %s",
                    task, done, total, total == 0 ? 100.0 : 100.0 * done / total, rate, eta));
            err.flush();
        }

        static String duration(double seconds) {
            long s = Math.round(seconds);
            if (s < 60) return s + "s";
            if (s < 3600) return (s / 60) + "m" + String.format(Locale.ROOT, "%02d", s % 60) + "s";
            return (s / 3600) + "h" + String.format(Locale.ROOT, "%02d", (s % 3600) / 60) + "m";
        }
    }
}
