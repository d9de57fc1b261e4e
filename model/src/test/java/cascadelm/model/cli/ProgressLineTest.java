package cascadelm.model.cli;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressLineTest {
    @Test
    void shortPromptsPrintNothing() {
        StringWriter s = new StringWriter();
        ProgressLine p = new ProgressLine(new PrintWriter(s), "prefill", 100, false);
        p.accept(50);
        p.accept(100);
        assertEquals("", s.toString());
    }

    @Test
    void inLogsTheLastLineIsAlwaysPrintedWithCountsAndEta() {
        StringWriter s = new StringWriter();
        ProgressLine p = new ProgressLine(new PrintWriter(s), "prefill", 10_000, false);
        p.accept(1024);            // within the first interval: skipped
        p.accept(10_000);
        String out = s.toString();
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.matches("prefill: 10,000 / 10,000 tokens \\(100%\\), [0-9.]+ tok/s, ETA 0m00s\\n"), out);
    }

    @Test
    void onATerminalTheLineIsRedrawnInPlace() {
        StringWriter s = new StringWriter();
        ProgressLine p = new ProgressLine(new PrintWriter(s), "prefill", 8192, true);
        p.accept(8192);
        assertTrue(s.toString().startsWith("\rprefill: 8,192 / 8,192") && s.toString().endsWith("\n"), s.toString());
    }
}
