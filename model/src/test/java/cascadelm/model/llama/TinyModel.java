package cascadelm.model.llama;

import cascadelm.model.gguf.GgmlType;
import cascadelm.model.gguf.GgufWriter;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small random F32 model written as GGUF for tests, with its weights kept as doubles so a reference
 * implementation can run on exactly the same numbers. The vocabulary is the 256 byte symbols of
 * byte-level BPE plus one merge and an end-of-text token.
 */
public final class TinyModel {
    final String arch;
    final int dim, layers, heads, kvHeads, headDim, ffn, vocab;
    final boolean tied, biases;
    final double theta = 10000, eps = 1e-5;
    final Map<String, float[]> tensors = new HashMap<>();
    final List<String> tokens = new ArrayList<>();
    private final Map<String, Object> overrides = new LinkedHashMap<>();
    private final Map<String, GgmlType> types = new HashMap<>();

    public TinyModel(String arch, int dim, int layers, int heads, int kvHeads, int headDim, int ffn, boolean tied, long seed) {
        this.arch = arch;
        this.dim = dim;
        this.layers = layers;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.ffn = ffn;
        this.tied = tied;
        this.biases = arch.equals("qwen2");
        for (int b = 0; b < 256; b++) tokens.add(byteSymbol(b));
        tokens.add(byteSymbol(' ') + "t");
        tokens.add("<|endoftext|>");
        this.vocab = tokens.size();
        Random r = new Random(seed);
        put("token_embd.weight", vocab * dim, r, 0.5, 0);
        if (!tied) put("output.weight", vocab * dim, r, 0.2, 0);
        put("output_norm.weight", dim, r, 0.2, 1);
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            put(p + "attn_norm.weight", dim, r, 0.2, 1);
            put(p + "attn_q.weight", heads * headDim * dim, r, 0.3, 0);
            put(p + "attn_k.weight", kvHeads * headDim * dim, r, 0.3, 0);
            put(p + "attn_v.weight", kvHeads * headDim * dim, r, 0.3, 0);
            put(p + "attn_output.weight", dim * heads * headDim, r, 0.2, 0);
            if (biases) {
                put(p + "attn_q.bias", heads * headDim, r, 0.3, 0);
                put(p + "attn_k.bias", kvHeads * headDim, r, 0.3, 0);
                put(p + "attn_v.bias", kvHeads * headDim, r, 0.3, 0);
            }
            put(p + "ffn_norm.weight", dim, r, 0.2, 1);
            put(p + "ffn_gate.weight", ffn * dim, r, 0.2, 0);
            put(p + "ffn_up.weight", ffn * dim, r, 0.2, 0);
            put(p + "ffn_down.weight", dim * ffn, r, 0.2, 0);
        }
    }

    private void put(String name, int n, Random r, double scale, double mean) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (mean + scale * r.nextGaussian());
        tensors.put(name, a);
    }

    /**
     * Multiplies the weights of every tensor whose name ends with {@code suffix} (e.g. "attn_q.weight") by
     * {@code factor}: smaller query and key weights give attention logits of a trained model's size instead of
     * the near-one-hot softmax these random ones make.
     */
    public TinyModel scaled(String suffix, double factor) {
        tensors.forEach((name, a) -> {
            if (name.endsWith(suffix)) for (int i = 0; i < a.length; i++) a[i] = (float) (a[i] * factor);
        });
        return this;
    }

    /** Replaces a metadata value when written (null leaves the key out): for hostile-file tests. */
    public TinyModel with(String key, Object value) {
        overrides.put(key, value);
        return this;
    }

    /** Writes the tensor in another ggml type (zero bytes of that type's size): for unsupported-type tests. */
    public TinyModel withType(String tensor, GgmlType type) {
        types.put(tensor, type);
        return this;
    }

    public Path write(Path dir) throws IOException {
        GgufWriter w = new GgufWriter();
        String p = arch + ".";
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("general.architecture", arch);
        m.put("general.name", "tiny-" + arch);
        m.put(p + "context_length", 512);
        m.put(p + "embedding_length", dim);
        m.put(p + "block_count", layers);
        m.put(p + "feed_forward_length", ffn);
        m.put(p + "attention.head_count", heads);
        m.put(p + "attention.head_count_kv", kvHeads);
        m.put(p + "attention.key_length", headDim);
        m.put(p + "attention.value_length", headDim);
        m.put(p + "attention.layer_norm_rms_epsilon", (float) eps);
        m.put(p + "rope.freq_base", (float) theta);
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", arch.equals("qwen2") ? "qwen2" : "llama-bpe");
        m.put("tokenizer.ggml.tokens", tokens.toArray(new String[0]));
        int[] tokenTypes = new int[vocab];
        java.util.Arrays.fill(tokenTypes, 1);
        tokenTypes[vocab - 1] = 3;
        m.put("tokenizer.ggml.token_type", tokenTypes);
        m.put("tokenizer.ggml.merges", new String[]{byteSymbol(' ') + " t"});
        m.put("tokenizer.ggml.bos_token_id", vocab - 1);
        m.put("tokenizer.ggml.eos_token_id", vocab - 1);
        m.putAll(overrides);
        m.forEach((key, value) -> {
            if (value != null) w.put(key, value);
        });
        for (Map.Entry<String, float[]> e : new java.util.TreeMap<>(tensors).entrySet()) {
            GgmlType type = types.get(e.getKey());
            if (type != null) {
                long[] d = dims(e.getKey());
                long bytes = (long) e.getValue().length / type.blockSize * type.bytesPerBlock;
                w.putTensor(e.getKey(), type, d, MemorySegment.ofArray(new byte[(int) bytes]));
                continue;
            }
            w.putF32Tensor(e.getKey(), dims(e.getKey()), e.getValue());
        }
        Path file = dir.resolve("tiny-" + arch + ".gguf");
        w.write(file);
        return file;
    }

    private long[] dims(String name) {
        int n = tensors.get(name).length;
        if (name.endsWith("norm.weight") || name.endsWith(".bias")) return new long[]{n};
        int cols = name.contains("attn_output") ? heads * headDim : name.contains("ffn_down") ? ffn : dim;
        return new long[]{cols, n / cols};
    }

    /** The GPT-2 byte-to-unicode symbol of a byte: printable Latin-1 maps to itself, the rest to 256 + n. */
    static String byteSymbol(int b) {
        int n = 0;
        for (int i = 0; i < 256; i++) {
            boolean printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174);
            if (i == b) return String.valueOf((char) (printable ? i : 256 + n));
            if (!printable) n++;
        }
        throw new IllegalArgumentException("not a byte: " + b);
    }
}
