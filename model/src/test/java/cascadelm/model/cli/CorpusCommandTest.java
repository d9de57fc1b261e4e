package cascadelm.model.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CorpusCommandTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private int corpus(Path outDir, String... more) {
        String[] base = {"corpus", "--out", outDir.toString(), "--documents", "2", "--min-words", "1000", "--max-words", "2000"};
        String[] args = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, args, base.length, more.length);
        return run(args);
    }

    @Test
    void writesTheCorpusAndReportsItsSpeed() {
        assertEquals(0, corpus(dir.resolve("c"), "--text-files", "--facts-per-doc", "4"), err.toString());
        assertTrue(Files.isRegularFile(dir.resolve("c/documents.jsonl")));
        assertTrue(Files.isRegularFile(dir.resolve("c/questions.jsonl")));
        assertTrue(Files.isRegularFile(dir.resolve("c/docs/doc-42-00001.txt")));
        assertTrue(out.toString().contains("8 questions") && out.toString().contains("words/s"), out.toString());
    }

    @Test
    void badSizesNameTheOption() {
        assertEquals(2, corpus(dir.resolve("a"), "--min-words", "-5"));
        assertTrue(err.toString().contains("--min-words"), err.toString());
        assertEquals(2, corpus(dir.resolve("b"), "--documents", "0"));
        assertTrue(err.toString().contains("--documents"), err.toString());
        assertEquals(2, corpus(dir.resolve("c"), "--facts-per-doc", "-1"));
        assertTrue(err.toString().contains("--facts-per-doc"), err.toString());
        assertFalse(Files.exists(dir.resolve("a")), "nothing is created for a usage error");
    }

    @Test
    void minAboveMaxNamesBoth() {
        assertEquals(2, corpus(dir.resolve("a"), "--min-words", "5000", "--max-words", "4000"));
        assertTrue(err.toString().contains("--min-words") && err.toString().contains("--max-words"), err.toString());
    }

    @Test
    void aNonEmptyOutputNeedsOverwrite() throws Exception {
        Path c = dir.resolve("c");
        assertEquals(0, corpus(c, "--text-files"));
        Path mine = Files.writeString(c.resolve("notes.md"), "keep me");
        assertEquals(2, corpus(c));
        assertTrue(err.toString().contains("--overwrite"), err.toString());
        assertEquals(0, corpus(c, "--overwrite", "--seed", "3"));
        assertTrue(Files.exists(mine), "files that are not the corpus's stay");
        assertFalse(Files.exists(c.resolve("docs/doc-42-00000.txt")), "stale text files go");
        assertTrue(Files.readString(c.resolve("documents.jsonl")).contains("doc-3-00000"));
    }

    @Test
    void anOutputThatCannotBeCreatedIsAUsageError() throws Exception {
        Path file = Files.writeString(dir.resolve("plain-file"), "x");
        assertEquals(2, corpus(file.resolve("sub")));
        assertTrue(err.toString().contains("--out"), err.toString());
        assertEquals(2, corpus(file));
        assertTrue(err.toString().contains("not a directory"), err.toString());
    }

    @Test
    void sampleFixesItsSettings() {
        assertEquals(2, run("corpus", "--sample", "--seed", "1", "--out", dir.resolve("s").toString()));
        assertTrue(err.toString().contains("--seed") && err.toString().contains("--sample"), err.toString());
    }

    @Test
    void helpListsTheCorpusCommand() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("corpus"), out.toString());
    }
}
