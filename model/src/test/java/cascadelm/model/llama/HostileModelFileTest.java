package cascadelm.model.llama;

import cascadelm.model.cli.Main;
import cascadelm.model.gguf.GgmlType;
import cascadelm.model.gguf.ModelFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Well-formed GGUF files that are not usable models: {@link LlamaModel#open} rejects each with a
 * {@link ModelFormatException} naming the key or tensor, and the CLI prints exactly one line and exits 3.
 */
class HostileModelFileTest {
    @TempDir
    Path dir;

    /** Llama, dim 32, one layer, 4 heads, 2 KV heads, head dim 8, ffn 256 (a whole Q5_K block per row). */
    private static TinyModel tiny() {
        return new TinyModel("llama", 32, 1, 4, 2, 8, 256, true, 7);
    }

    /** Opening fails naming every fragment, in the exception and in the CLI's single line, with exit 3. */
    private void assertRejected(TinyModel model, String... fragments) throws IOException {
        assertRejected(model.write(dir), fragments);
    }

    private void assertRejected(Path file, String... fragments) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> LlamaModel.open(file).close());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(new String[] {"inspect", file.toString()}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(3, exit, err.toString());
        assertEquals(1, err.toString().lines().count(), () -> "exactly one line: " + err);
        assertTrue(err.toString().startsWith("cascade-lm: bad model file: "), err.toString());
        for (String f : fragments) {
            assertTrue(err.toString().contains(f), () -> "\"" + err + "\" lacks \"" + f + "\"");
        }
    }

    @Test
    void theTinyModelItselfOpens() throws IOException {
        try (LlamaModel m = LlamaModel.open(tiny().write(dir))) {
            assertEquals(8, m.config().headDim());
        }
    }

    @Test
    void attentionQueryOfTheWrongSizeIsNamed() throws IOException {
        TinyModel m = tiny();
        m.tensors.put("blk.0.attn_q.weight", new float[32 * 40]);
        assertRejected(m, "tensor blk.0.attn_q.weight has dimensions [32, 40], expected [32, 32]");
    }

    @Test
    void feedForwardOfTheWrongSizeIsNamed() throws IOException {
        TinyModel m = tiny();
        m.tensors.put("blk.0.ffn_up.weight", new float[32 * 128]);
        assertRejected(m, "tensor blk.0.ffn_up.weight has dimensions [32, 128], expected [32, 256]");
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        TinyModel m = tiny();
        m.tensors.remove("blk.0.attn_v.weight");
        assertRejected(m, "tensor blk.0.attn_v.weight is missing");
    }

    @Test
    void zeroHeadsAreRejectedNamingTheKey() throws IOException {
        assertRejected(tiny().with("llama.attention.head_count", 0), "llama.attention.head_count", "0");
    }

    @Test
    void keyValueHeadsThatDoNotDivideTheHeadsAreRejected() throws IOException {
        assertRejected(tiny().with("llama.attention.head_count_kv", 3), "llama.attention.head_count_kv", "3",
                "divide");
    }

    @Test
    void zeroEmbeddingLengthIsRejectedNamingTheKey() throws IOException {
        assertRejected(tiny().with("llama.embedding_length", 0), "llama.embedding_length", "0");
    }

    @Test
    void blockCountBeyondIntIsRejectedNamingTheKey() throws IOException {
        assertRejected(tiny().with("llama.block_count", 1L << 40), "llama.block_count", "1099511627776");
    }

    @Test
    void blockCountFarAboveTheTensorsIsRejectedWithoutAllocatingForIt() throws IOException {
        // Once allocated a list of that capacity up front: an OutOfMemoryError instead of a clean error.
        assertRejected(tiny().with("llama.block_count", Integer.MAX_VALUE), "tensor blk.1.attn_norm.weight is missing");
    }

    @Test
    void headDimensionWhoseProductWithTheHeadsOverflowsIsRejected() throws IOException {
        // 4 × (2^30 + 8) wraps to 32 in int arithmetic: the tensors' shapes would "match".
        TinyModel m = new TinyModel("llama", 32, 1, 4, 4, 8, 256, true, 7).with("llama.attention.key_length", (1 << 30) + 8);
        assertRejected(m, "llama.attention.key_length", "1073741832");
    }

    @Test
    void unsupportedTensorTypeNamesTensorAndType() throws IOException {
        assertRejected(tiny().withType("blk.0.ffn_down.weight", GgmlType.Q5_K),
                "tensor blk.0.ffn_down.weight has type Q5_K, which cascade-lm does not support");
    }

    @Test
    void unsupportedArchitectureIsNamed() throws IOException {
        assertRejected(tiny().with("general.architecture", "mamba"), "general.architecture", "mamba");
    }

    @Test
    void tokenizerModelBertOrUnknownIsNamed() throws IOException {
        assertRejected(tiny().with("tokenizer.ggml.model", "bert"), "tokenizer.ggml.model", "\"bert\"");
        assertRejected(tiny().with("tokenizer.ggml.model", "no-such-tokenizer"), "tokenizer.ggml.model", "no-such-tokenizer");
    }

    @Test
    void tokenTypesAndScoresOfTheWrongLengthAreNamed() throws IOException {
        assertRejected(tiny().with("tokenizer.ggml.token_type", new int[] {1, 1, 1}),
                "tokenizer.ggml.token_type has 3 entries but tokenizer.ggml.tokens has 258");
        assertRejected(tiny().with("tokenizer.ggml.scores", new float[300]),
                "tokenizer.ggml.scores has 300 entries but tokenizer.ggml.tokens has 258");
    }

    @Test
    void mergeOfUnknownTokensIsNamed() throws IOException {
        assertRejected(tiny().with("tokenizer.ggml.merges", new String[] {"Ġ t", "zz qq"}),
                "tokenizer.ggml.merges[1]", "\"zz\"");
    }

    @Test
    void vocabularyLargerThanTheEmbeddingIsRejected() throws IOException {
        TinyModel m = tiny();
        m.tokens.add("extra");
        String[] tokens = m.tokens.toArray(new String[0]);
        assertRejected(m.with("tokenizer.ggml.tokens", tokens).with("tokenizer.ggml.token_type", null),
                "tokenizer.ggml.tokens has 259 tokens but token_embd.weight has 258 rows");
    }

    @Test
    void tokenThatIsNotUtf8IsRejectedNamingTheKeyAndIndex() throws IOException {
        TinyModel m = tiny();
        m.tokens.set(100, "@@@@");
        m.with("tokenizer.ggml.tokens", m.tokens.toArray(new String[0]));
        Path file = m.write(dir);
        byte[] bytes = Files.readAllBytes(file);
        int at = indexOf(bytes, "@@@@".getBytes(StandardCharsets.US_ASCII));
        bytes[at] = (byte) 0xC3;      // a lead byte followed by '(' : not UTF-8
        bytes[at + 1] = '(';
        assertRejected(Files.write(file, bytes), "tokenizer.ggml.tokens[100]", "not valid UTF-8");
    }

    @Test
    void textFromTheFileCannotBreakTheCliLine() throws IOException {
        // Control characters in a name the message quotes would otherwise start new lines (or drive the terminal).
        Path file = tiny().with("general.architecture", "evil\nsecond line\u001b[2J").write(dir);
        assertRejected(file, "general.architecture", "second line");
        StringWriter err = new StringWriter();
        Main.run(new String[] {"inspect", file.toString()}, new PrintWriter(new StringWriter()), new PrintWriter(err, true));
        assertTrue(err.toString().contains("'evil\\nsecond line\\u001b[2J'"), err.toString());
    }

    @Test
    void chatTemplateCodeIsNeverExecuted() throws IOException {
        Path marker = dir.resolve("pwned");
        String template = "{{ cycler.__init__.__globals__.os.popen('touch " + marker + "').read() }}"
                + "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}";
        Path file = tiny().with("tokenizer.chat_template", template).write(dir);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(new String[] {"generate", "--model", file.toString(), "--prompt", "hi", "--chat",
                "--max-tokens", "2"}, new PrintWriter(out, true), new PrintWriter(err, true));
        assertEquals(0, exit, err.toString());
        assertFalse(Files.exists(marker), "the template ran");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) continue outer;
            }
            return i;
        }
        throw new AssertionError("not found");
    }
}
