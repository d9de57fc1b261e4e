package cascadelm.spark;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The progress of a local run on stderr: documents done, tokens/s and ETA, from the live counters. */
class ProgressDisplayTest {
    @AfterEach
    void reset() {
        LocalProgress.reset();
    }

    @Test
    void aLocalRunWithoutATerminalPrintsDocumentsTokensPerSecondAndEta() throws InterruptedException {
        StringWriter text = new StringWriter();
        LocalProgress.reset();
        try (ProgressDisplay ignored = ProgressDisplay.start(true, 4, 10_000, new PrintWriter(text), Duration.ofMillis(100), false)) {
            LocalProgress.DOCUMENTS.set(1);
            LocalProgress.TOKENS.set(5_000);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!text.toString().contains("1/4") && System.nanoTime() < deadline) Thread.sleep(50);
        }
        String line = text.toString().lines().filter(l -> l.contains("1/4")).findFirst().orElse("(none) in: " + text);
        assertTrue(Pattern.matches("cascade-job: 1/4 documents, [1-9][0-9]* tokens/s, ETA [0-9hms.]+", line), line);
    }

    @Test
    void clusterAndQuietRunsPrintNothing() throws InterruptedException {
        StringWriter text = new StringWriter();
        LocalProgress.DOCUMENTS.set(1);
        try (ProgressDisplay ignored = ProgressDisplay.start(false, 4, 10_000, new PrintWriter(text), Duration.ofMillis(1), false)) {
            Thread.sleep(700);
        }
        System.setProperty("cascadelm.quiet", "true");
        try (ProgressDisplay ignored = ProgressDisplay.start(true, 4, 10_000, new PrintWriter(text), Duration.ofMillis(1), false)) {
            Thread.sleep(700);
        } finally {
            System.clearProperty("cascadelm.quiet");
        }
        assertEquals("", text.toString(), "a cluster's executors update their own counters; the Spark UI shows progress there");
    }
}
