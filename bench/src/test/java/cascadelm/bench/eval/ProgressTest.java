package cascadelm.bench.eval;

import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressTest {
    @Test
    void linesTellTokensRateAndEta() {
        StringWriter err = new StringWriter();
        try (Progress p = Progress.create("passkey", 1000, null, new PrintWriter(err), 0)) {
            p.advance(250);
            p.advance(750);
        }
        String[] lines = err.toString().strip().split("\n");
        assertEquals(3, lines.length, err.toString());
        assertTrue(lines[0].startsWith("passkey: 250 / 1,000 tokens (25%)"), lines[0]);
        assertTrue(lines[0].contains("tok/s") && lines[0].contains("ETA"), lines[0]);
        assertTrue(lines[2].contains("1,000 / 1,000 tokens (100%)") && lines[2].endsWith("ETA 0s"), lines[2]);
    }

    @Test
    void linesWaitBetweenPrints() {
        StringWriter err = new StringWriter();
        try (Progress p = Progress.create("x", 10, null, new PrintWriter(err), 60_000)) {
            for (int i = 0; i < 10; i++) p.advance(1);
        }
        assertEquals(1, err.toString().strip().split("\n").length, "only the closing line: " + err);
    }

    @Test
    void durationsReadLikeClocks() {
        assertEquals("59s", Progress.Lines.duration(59));
        assertEquals("2m05s", Progress.Lines.duration(125));
        assertEquals("1h01m", Progress.Lines.duration(3660));
    }
}
