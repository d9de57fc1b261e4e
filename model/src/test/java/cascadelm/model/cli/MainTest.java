package cascadelm.model.cli;

import cascadelm.model.llama.TinyModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MainTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    private Path tinyModel() throws Exception {
        return new TinyModel("llama", 32, 1, 4, 2, 8, 48, true, 3).write(dir);
    }

    @Test
    void noCommandIsAUsageError() {
        assertEquals(2, run());
        assertTrue(err.toString().contains("command"), err.toString());
    }

    @Test
    void unknownOptionIsAUsageError() {
        assertEquals(2, run("generate", "--bogus"));
    }

    @Test
    void helpListsTheCommands() {
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("generate") && out.toString().contains("inspect"), out.toString());
    }

    @Test
    void missingModelFileExitsWithThreeAndOneLine() {
        assertEquals(3, run("generate", "--model", dir.resolve("nope.gguf").toString(), "--prompt", "hi"));
        assertTrue(err.toString().contains("nope.gguf"), err.toString());
        assertEquals(1, err.toString().strip().lines().count(), "one line, no stack trace: " + err);
    }

    @Test
    void garbageModelFileExitsWithThree() throws Exception {
        Path bad = Files.write(dir.resolve("bad.gguf"), "this is not a model".getBytes());
        assertEquals(3, run("inspect", bad.toString()));
        assertTrue(err.toString().startsWith("cascade-lm: bad model file"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace without --verbose");
    }

    @Test
    void verboseAddsTheStackTrace() throws Exception {
        Path bad = Files.write(dir.resolve("bad.gguf"), "GGUF garbage".getBytes());
        assertEquals(3, run("generate", "--model", bad.toString(), "--prompt", "x", "--verbose"));
        assertTrue(err.toString().contains("\tat "), err.toString());
    }

    @Test
    void invalidSettingsNameTheOption() throws Exception {
        Path model = tinyModel();
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", "--top-p", "2"));
        assertTrue(err.toString().contains("--top-p"), err.toString());
    }

    @Test
    void promptFileThatIsNotUtf8IsAUsageError() throws Exception {
        Path model = tinyModel();
        Path prompt = Files.write(dir.resolve("p.txt"), new byte[]{'a', (byte) 0xC3, (byte) 0x28});
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt-file", prompt.toString()));
        assertTrue(err.toString().contains("UTF-8"), err.toString());
    }

    @Test
    void generateStreamsTokensAndReportsASummary() throws Exception {
        Path model = tinyModel();
        assertEquals(0, run("generate", "--model", model.toString(), "--prompt", "the test", "--max-tokens", "5"));
        assertTrue(err.toString().matches("(?s)(cascade-lm: backend auto: using the CPU [^\\n]*\\n)?tokens in \\d+, out \\d+ .*prefill .* tok/s .*decode .* tok/s.*\\n"), err.toString());
    }

    @Test
    void greedyGenerationIsRepeatable() throws Exception {
        Path model = tinyModel();
        run("generate", "--model", model.toString(), "--prompt", "tttt", "--max-tokens", "8");
        String first = out.toString();
        out.getBuffer().setLength(0);
        run("generate", "--model", model.toString(), "--prompt", "tttt", "--max-tokens", "8", "--threads", "1");
        assertEquals(first, out.toString());
    }

    @Test
    void chatNeedsATemplateTheModelHas() throws Exception {
        assertEquals(2, run("generate", "--model", tinyModel().toString(), "--prompt", "hi", "--chat"));
        assertTrue(err.toString().contains("--chat is not supported for this model"), err.toString());
    }

    @Test
    void chatRendersTheModelsTemplate() throws Exception {
        Path qwen = Path.of(getClass().getResource("/fixtures/models/qwen2-bpe.F16.gguf").toURI());
        assertEquals(0, run("generate", "--model", qwen.toString(), "--prompt", "Who hid the key?", "--chat",
                "--max-tokens", "4"));
        // ChatML system + user turn: 5 + 11 + 3 + ... tokens; what matters is that specials were parsed.
        assertTrue(err.toString().matches("(?s)(cascade-lm: backend auto: using the CPU [^\\n]*\\n)?tokens in (\\d+), out 4 .*"), err.toString());
    }

    @Test
    void impossibleCacheSettingsNameTheSetting() throws Exception {
        Path model = tinyModel();
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", "--cache-size", "10", "--cascades", "4"));
        assertTrue(err.toString().contains("--cache-size 10 must be divisible by cascades (4)"), err.toString());
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", "--cache", "sink", "--sinks", "64", "--cache-size", "64"));
        assertTrue(err.toString().contains("--sinks 64 must be smaller than cache-size (64)"), err.toString());
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", "--stride", "0"));
        assertTrue(err.toString().contains("--stride 0 must be from 1 to 65536"), err.toString());
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", "--cache", "lru"));
        assertTrue(err.toString().contains("--cache: 'lru' must be one of full, window, sink, cascade"), err.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "--max-tokens|-1|--max-tokens must be ≥ 0",
            "--max-tokens|99999999999|0 or more",
            "--temperature|-0.5|--temperature must be a finite number ≥ 0",
            "--temperature|Infinity|--temperature must be a finite number ≥ 0",
            "--temperature|hot|finite number ≥ 0",
            "--top-k|-3|--top-k must be ≥ 0",
            "--top-k|many|K ≥ 0",
            "--top-p|0|--top-p must be in (0, 1]",
            "--top-p|1.5|--top-p must be in (0, 1]",
            "--top-p|NaN|--top-p must be in (0, 1]",
            "--threads|-1|--threads must be ≥ 0",
            "--cache-size|0|--cache-size 0 must be from 1 to 4194304",
            "--cache-size|8388608|--cache-size 8388608 must be from 1 to 4194304",
            "--cache-size|lots|--cache-size: 'lots' is not an integer below 2^31; it must be from 1 to 4194304",
            "--cache-size|99999999999|--cache-size: '99999999999' is not an integer below 2^31; it must be from 1 to 4194304",
            "--cascades|0|--cascades 0 must be from 1 to 30",
            "--cascades|31|--cascades 31 must be from 1 to 30",
            "--sinks|-1|--sinks -1 must be from 0 to 4194304",
            "--stride|x|--stride: 'x' is not an integer below 2^31; it must be from 1 to 65536",
            "--stride|100000|--stride 100000 must be from 1 to 65536",
            "--ema-beta|1|--ema-beta 1.0 must be in (0, 1)",
            "--ema-beta|x|--ema-beta: 'x' is not a number; it must be in (0, 1)",
            "--eager-fill|maybe|--eager-fill: 'maybe' must be true or false",
            "--select|best|--select: 'best' must be one of score, stride",
            "--head-reduction|sum|--head-reduction: 'sum' must be one of max, mean",
            "--positions|rope|--positions: 'rope' must be one of cache, original"})
    void everyInvalidSettingNamesTheOptionAndWhatItAccepts(String option, String value, String expected) throws Exception {
        Path model = tinyModel();
        assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x", option, value));
        assertTrue(err.toString().contains(option), err.toString());
        assertTrue(err.toString().contains(expected), err.toString());
    }

    @Test
    void inspectDescribesTheModel() throws Exception {
        assertEquals(0, run("inspect", tinyModel().toString()));
        String s = out.toString();
        assertTrue(s.contains("architecture    llama"), s);
        assertTrue(s.contains("heads           4 query, 2 key/value, head dim 8"), s);
        assertTrue(s.contains("quantization    F32 100%"), s);
        assertTrue(s.contains("tied to the token embedding"), s);
        assertTrue(s.contains("chat template   none"), s);
    }

    @Test
    void settingsFileSuppliesDefaults() throws Exception {
        Path model = tinyModel();
        Path conf = Files.writeString(dir.resolve("c.properties"), "generate.max-tokens=-4\n");
        System.setProperty("cascadelm.conf", conf.toString());
        try {
            assertEquals(2, run("generate", "--model", model.toString(), "--prompt", "x"));
            assertTrue(err.toString().contains("--max-tokens must be ≥ 0, got -4"), err.toString());
        } finally {
            System.clearProperty("cascadelm.conf");
        }
    }
}
