package cascadelm.bench;

import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;
import cascadelm.model.gguf.GgufValueType;
import cascadelm.model.gguf.GgufWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A Llama-shaped GGUF model with random weights: what the engine benchmark runs on, since speed does not
 * depend on what the weights say and no real model needs to be downloaded. Norms are F32 ones; every
 * matrix is in the requested type with uniform values of standard deviation 0.02 (uniform rather than
 * Gaussian: a quarter of the generation time, and the kernels cannot tell). The vocabulary is a synthetic
 * but well-formed GPT-2 byte-level one, so {@code LlamaModel.open} accepts the file as it would a real one.
 */
public final class RandomModel {
    static final double STD = 0.02;
    private static final List<String> MERGES = List.of("Ġ t", "Ġ a", "h e", "i n", "Ġt he");

    /** A Llama architecture shape; the embedding is tied to the output (no output.weight). */
    public record Shape(String name, int dim, int layers, int heads, int kvHeads, int headDim, int ffnDim,
                        int vocab, double ropeTheta) {

        /** Llama 3.2 1B. */
        public static final Shape LLAMA_3_2_1B =
                new Shape("llama3.2-1b", 2048, 16, 32, 8, 64, 8192, 128256, 500000.0);

        public int qDim() {
            return heads * headDim;
        }

        public int kvDim() {
            return kvHeads * headDim;
        }

        /** Parameters of the matrices one token passes through in one layer (q, k, v, o, gate, up, down). */
        public long layerMatmulParams() {
            return (long) dim * (2L * qDim() + 2L * kvDim()) + 3L * dim * ffnDim;
        }

        /** Special tokens at the end of the vocabulary: Llama 3's 256, fewer for small test vocabularies. */
        int specialTokens() {
            return vocab >= 128256 ? 256 : 16;
        }
    }

    private RandomModel() {
    }

    /** The model file in {@code dir} for this shape, type and seed, written first if it is not there yet. */
    public static Path ensure(Path dir, Shape shape, TensorType type, long seed) throws IOException {
        Path file = dir.resolve(shape.name() + "-random-" + type + "-seed" + seed + ".gguf");
        if (Files.isRegularFile(file)) return file;
        Files.createDirectories(dir);
        // Written under another name and moved into place, so an interrupted run never leaves a file
        // that a later run would take for a complete one.
        Path partial = dir.resolve(file.getFileName() + ".partial");
        write(partial, shape, type, seed);
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /** Writes the model; one tensor at a time is in memory (the largest is the embedding). */
    public static void write(Path file, Shape s, TensorType type, long seed) throws IOException {
        if (type != TensorType.F16 && type != TensorType.BF16 && type != TensorType.Q8_0 && type != TensorType.Q4_0
                && type != TensorType.F32) {
            throw new IllegalArgumentException("random models come in F32, F16, BF16, Q8_0 or Q4_0, not " + type);
        }
        GgufWriter w = new GgufWriter();
        String a = "llama.";
        w.put("general.architecture", "llama");
        w.put("general.name", s.name() + " random weights (" + type + ", seed " + seed + ")");
        w.put(a + "context_length", GgufValueType.UINT32, 131072);
        w.put(a + "embedding_length", GgufValueType.UINT32, s.dim());
        w.put(a + "block_count", GgufValueType.UINT32, s.layers());
        w.put(a + "feed_forward_length", GgufValueType.UINT32, s.ffnDim());
        w.put(a + "attention.head_count", GgufValueType.UINT32, s.heads());
        w.put(a + "attention.head_count_kv", GgufValueType.UINT32, s.kvHeads());
        w.put(a + "attention.key_length", GgufValueType.UINT32, s.headDim());
        w.put(a + "attention.value_length", GgufValueType.UINT32, s.headDim());
        w.put(a + "rope.dimension_count", GgufValueType.UINT32, s.headDim());
        w.put(a + "rope.freq_base", GgufValueType.FLOAT32, (float) s.ropeTheta());
        w.put(a + "attention.layer_norm_rms_epsilon", GgufValueType.FLOAT32, 1e-5f);
        w.put(a + "vocab_size", GgufValueType.UINT32, s.vocab());
        putTokenizer(w, s);

        // Tensor names and order as llama.cpp's converter writes them.
        int index = 0;
        matrix(w, "token_embd.weight", s.vocab(), s.dim(), type, seed, index++);
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            ones(w, p + "attn_norm.weight", s.dim());
            matrix(w, p + "attn_q.weight", s.qDim(), s.dim(), type, seed, index++);
            matrix(w, p + "attn_k.weight", s.kvDim(), s.dim(), type, seed, index++);
            matrix(w, p + "attn_v.weight", s.kvDim(), s.dim(), type, seed, index++);
            matrix(w, p + "attn_output.weight", s.dim(), s.qDim(), type, seed, index++);
            ones(w, p + "ffn_norm.weight", s.dim());
            matrix(w, p + "ffn_gate.weight", s.ffnDim(), s.dim(), type, seed, index++);
            matrix(w, p + "ffn_up.weight", s.ffnDim(), s.dim(), type, seed, index++);
            matrix(w, p + "ffn_down.weight", s.dim(), s.ffnDim(), type, seed, index++);
        }
        ones(w, "output_norm.weight", s.dim());
        w.write(file);
    }

    private static void ones(GgufWriter w, String name, int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        w.putF32Tensor(name, new long[] {n}, v);
    }

    /** A rows × cols matrix, encoded only when the writer reaches it. */
    private static void matrix(GgufWriter w, String name, int rows, int cols, TensorType type, long seed, int index) {
        w.putTensor(name, type, new long[] {cols, rows}, () -> encode(rows, cols, type, seed, index));
    }

    private static MemorySegment encode(int rows, int cols, TensorType type, long seed, int index) {
        int rowBytes = Math.toIntExact(type.bytesFor(cols));
        // On the heap, so the GC reclaims it under pressure once the writer has moved on (the largest,
        // the F16 embedding, is 0.5 GB).
        byte[] out = new byte[Math.multiplyExact(rows, rowBytes)];
        int rowsPerTask = 64;
        double halfWidth = STD * Math.sqrt(3);   // uniform on [−h, h] has standard deviation h/√3
        // Every row has its own generator, so the values do not depend on how the rows are split over threads.
        IntStream.range(0, (rows + rowsPerTask - 1) / rowsPerTask).parallel().forEach(task -> {
            int r0 = task * rowsPerTask;
            int r1 = Math.min(rows, r0 + rowsPerTask);
            float[] values = new float[(r1 - r0) * cols];
            for (int r = r0; r < r1; r++) {
                SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + ((long) index << 32) + r);
                for (int c = 0; c < cols; c++) {
                    values[(r - r0) * cols + c] = (float) ((rng.nextDouble() * 2 - 1) * halfWidth);
                }
            }
            byte[] bytes = Quantizer.quantize(type, values);
            System.arraycopy(bytes, 0, out, r0 * rowBytes, bytes.length);
        });
        return MemorySegment.ofArray(out);
    }

    /**
     * A GPT-2 byte-level vocabulary of Llama 3's layout: the 256 byte symbols, the results of a few merges,
     * distinct filler tokens, and the special tokens at the end (begin_of_text first, as in Llama 3).
     */
    private static void putTokenizer(GgufWriter w, Shape s) {
        int special = s.specialTokens();
        int firstSpecial = s.vocab() - special;
        List<String> tokens = new ArrayList<>(s.vocab());
        for (int b = 0; b < 256; b++) tokens.add(String.valueOf(byteSymbol(b)));
        for (String m : MERGES) tokens.add(m.replace(" ", ""));
        for (int i = 0; tokens.size() < firstSpecial; i++) tokens.add("filler" + i);
        if (tokens.size() != firstSpecial) {
            throw new IllegalArgumentException("vocabulary of " + s.vocab() + " is too small for the byte alphabet,"
                    + " merges and " + special + " special tokens");
        }
        for (int i = 0; i < special; i++) {
            tokens.add(switch (i) {
                case 0 -> "<|begin_of_text|>";
                case 1 -> "<|end_of_text|>";
                case 6 -> "<|start_header_id|>";
                case 7 -> "<|end_header_id|>";
                case 9 -> "<|eot_id|>";
                default -> "<|reserved_special_token_" + i + "|>";
            });
        }
        int[] types = new int[s.vocab()];
        Arrays.fill(types, 0, firstSpecial, 1);            // normal
        Arrays.fill(types, firstSpecial, s.vocab(), 3);    // control
        w.put("tokenizer.ggml.model", "gpt2");
        w.put("tokenizer.ggml.pre", "llama-bpe");
        w.put("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        w.putArray("tokenizer.ggml.token_type", GgufValueType.INT32, types);
        w.put("tokenizer.ggml.merges", MERGES.toArray(String[]::new));
        w.put("tokenizer.ggml.bos_token_id", GgufValueType.UINT32, firstSpecial);
        w.put("tokenizer.ggml.eos_token_id", GgufValueType.UINT32, firstSpecial + 9);   // <|eot_id|>
        w.put("tokenizer.ggml.add_bos_token", true);
    }

    /** GPT-2's byte-to-unicode table: printable Latin-1 bytes stand for themselves, the rest map from U+0100. */
    static char byteSymbol(int b) {
        int next = 256;
        for (int x = 0; x < 256; x++) {
            boolean printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
            if (x == b) return (char) (printable ? x : next);
            if (!printable) next++;
        }
        throw new IllegalArgumentException("not a byte: " + b);
    }
}
