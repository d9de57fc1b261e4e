package cascadelm.model.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * Progress of a long prefill on stderr: tokens done, tokens/s and ETA. On a terminal one line is redrawn
 * in place; otherwise (logs, pipes) a plain line is printed every few seconds. Short prompts print nothing.
 */
final class ProgressLine implements IntConsumer {
    private static final long TERMINAL_INTERVAL_NS = 200_000_000L;
    private static final long LOG_INTERVAL_NS = 5_000_000_000L;
    /** Prompts that take about a second or less are not worth a progress line. */
    private static final int MIN_TOKENS = 4096;

    private final PrintWriter err;
    private final String task;
    private final int total;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long lastPrint = start;
    private boolean printed;

    ProgressLine(PrintWriter err, String task, int total, boolean terminal) {
        this.err = err;
        this.task = task;
        this.total = total;
        this.terminal = terminal;
    }

    static boolean stderrIsTerminal() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    @Override
    public void accept(int done) {
        if (total < MIN_TOKENS) return;
        long now = System.nanoTime();
        boolean last = done >= total;
        if (!last && now - lastPrint < (terminal ? TERMINAL_INTERVAL_NS : LOG_INTERVAL_NS)) return;
        lastPrint = now;
        double seconds = (now - start) / 1e9;
        double rate = done / Math.max(seconds, 1e-9);
        String line = String.format(Locale.ROOT, "%s: %,d / %,d tokens (%.0f%%), %.1f tok/s, ETA %s",
                task, done, total, 100.0 * done / total, rate, eta((total - done) / Math.max(rate, 1e-9)));
        if (terminal) {
            err.print("\r" + line + (last ? "\n" : ""));
        } else {
            err.println(line);
        }
        err.flush();
        printed = true;
    }

    boolean printedAnything() {
        return printed;
    }

    private static String eta(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
