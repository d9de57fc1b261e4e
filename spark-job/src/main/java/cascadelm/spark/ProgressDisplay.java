package cascadelm.spark;

import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.apache.spark.sql.SparkSession;

import java.io.Console;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;

/**
 * Progress of a local run on stderr: documents done, tokens/s and ETA, from {@link LocalProgress}. A bar
 * on a terminal; on a pipe or in a log, a plain line every ten seconds. Cluster runs have the Spark UI.
 */
final class ProgressDisplay implements AutoCloseable {
    private final Thread poller;
    private final ProgressBar bar;
    private volatile boolean stop;

    private ProgressDisplay(Thread poller, ProgressBar bar) {
        this.poller = poller;
        this.bar = bar;
    }

    /** A plain progress line this often when stderr is not a terminal (a pipe, a log file). */
    static final Duration LINE_INTERVAL = Duration.ofSeconds(10);

    static ProgressDisplay start(SparkSession spark, long documents, long estimatedTokens, PrintWriter err) {
        Console console = System.console();
        return start(spark.sparkContext().isLocal(), documents, estimatedTokens, err, LINE_INTERVAL,
                console != null && console.isTerminal());
    }

    /**
     * @param local    whether the tasks run in this JVM (only then do {@link LocalProgress}'s counters move)
     * @param terminal a bar on the console's stderr; otherwise a line on {@code err} every {@code lineInterval}
     */
    static ProgressDisplay start(boolean local, long documents, long estimatedTokens, PrintWriter err, Duration lineInterval,
                                 boolean terminal) {
        if (!local || documents == 0 || Boolean.getBoolean("cascadelm.quiet")) {
            return new ProgressDisplay(null, null);
        }
        ProgressBar bar = terminal ? new ProgressBarBuilder().setTaskName("documents").setInitialMax(documents)
                .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).setUnit(" docs", 1).showSpeed()
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).build() : null;
        ProgressDisplay[] self = new ProgressDisplay[1];
        long started = System.nanoTime();
        Thread t = Thread.ofPlatform().daemon().name("cascade-progress").unstarted(() -> {
            long lastLine = System.nanoTime();
            while (!self[0].stop) {
                long done = LocalProgress.DOCUMENTS.get();
                double seconds = (System.nanoTime() - started) / 1e9;
                double rate = seconds > 0 ? LocalProgress.TOKENS.get() / seconds : 0;
                if (bar != null) {
                    bar.stepTo(done);
                    bar.setExtraMessage(String.format(Locale.ROOT, " %.0f tok/s", rate));
                } else if (System.nanoTime() - lastLine > lineInterval.toNanos()) {
                    lastLine = System.nanoTime();
                    String eta = done == 0 ? "?" : Duration.ofSeconds((long) (seconds / done * (documents - done))).toString().substring(2).toLowerCase(Locale.ROOT);
                    err.printf(Locale.ROOT, "cascade-job: %d/%d documents, %.0f tokens/s, ETA %s%n", done, documents, rate, eta);
                    err.flush();
                }
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        self[0] = new ProgressDisplay(t, bar);
        t.start();
        return self[0];
    }

    @Override
    public void close() {
        stop = true;
        if (poller != null) {
            poller.interrupt();
            try {
                poller.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (bar != null) {
            bar.stepTo(LocalProgress.DOCUMENTS.get());
            bar.close();
        }
    }
}
