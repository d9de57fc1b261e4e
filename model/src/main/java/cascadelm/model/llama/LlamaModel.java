package cascadelm.model.llama;

import cascadelm.kernels.Matrix;
import cascadelm.model.gguf.GgufFile;
import cascadelm.model.gguf.GgufTensor;
import cascadelm.model.gguf.ModelFormatException;
import cascadelm.model.tokenizer.Tokenizer;
import cascadelm.model.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A Llama-family model opened from a GGUF file: configuration, tokenizer and weights (views over the
 * memory-mapped file, nothing copied but the small norm vectors). One model serves any number of
 * {@link Session}s; closing it unmaps the file.
 */
public final class LlamaModel implements AutoCloseable {
    private final GgufFile file;
    private final ModelConfig config;
    private final ModelWeights weights;
    private final Tokenizer tokenizer;

    private LlamaModel(GgufFile file, ModelConfig config, ModelWeights weights, Tokenizer tokenizer) {
        this.file = file;
        this.config = config;
        this.weights = weights;
        this.tokenizer = tokenizer;
    }

    /** Opens a GGUF model; a file that is not a usable model fails with a {@link ModelFormatException}. */
    public static LlamaModel open(Path path) throws IOException {
        GgufFile file = GgufFile.open(path);
        try {
            GgufTensor embedding = required(file, "token_embd.weight");
            if (embedding.dims().length != 2) {
                throw new ModelFormatException("tensor token_embd.weight should have 2 dimensions, has "
                        + embedding.dims().length);
            }
            ModelConfig config = ModelConfig.fromMetadata(file.metadata(), checkedInt(embedding, 1));
            Tokenizer tokenizer = Tokenizers.fromMetadata(file.metadata());
            if (tokenizer.vocabularySize() != config.vocabularySize()) {
                throw new ModelFormatException("tokenizer.ggml.tokens has " + tokenizer.vocabularySize()
                        + " tokens but token_embd.weight has " + config.vocabularySize() + " rows");
            }
            return new LlamaModel(file, config, readWeights(file, config), tokenizer);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public GgufFile file() {
        return file;
    }

    @Override
    public void close() {
        file.close();
    }

    private static ModelWeights readWeights(GgufFile f, ModelConfig c) {
        int d = c.dim();
        // Not presized: block_count is the file's word, and the first missing layer ends the loop.
        List<LayerWeights> layers = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            layers.add(new LayerWeights(
                    vector(f, p + "attn_norm.weight", d),
                    matrix(f, p + "attn_q.weight", c.qDim(), d),
                    matrix(f, p + "attn_k.weight", c.kvDim(), d),
                    matrix(f, p + "attn_v.weight", c.kvDim(), d),
                    matrix(f, p + "attn_output.weight", d, c.qDim()),
                    optionalVector(f, p + "attn_q.bias", c.qDim()),
                    optionalVector(f, p + "attn_k.bias", c.kvDim()),
                    optionalVector(f, p + "attn_v.bias", c.kvDim()),
                    vector(f, p + "ffn_norm.weight", d),
                    matrix(f, p + "ffn_gate.weight", c.ffnDim(), d),
                    matrix(f, p + "ffn_up.weight", c.ffnDim(), d),
                    matrix(f, p + "ffn_down.weight", d, c.ffnDim())));
        }
        Matrix embedding = matrix(f, "token_embd.weight", c.vocabularySize(), d);
        // Tied embeddings (Qwen2 small models, Llama 3.2): the file has no output.weight.
        Matrix output = f.tensor("output.weight") == null ? embedding
                : matrix(f, "output.weight", c.vocabularySize(), d);
        float[] ropeFactors = f.tensor("rope_freqs.weight") == null ? null : f.tensor("rope_freqs.weight").toFloats();
        return new ModelWeights(embedding, layers, vector(f, "output_norm.weight", d), output,
                c.rope(f.metadata(), ropeFactors));
    }

    private static GgufTensor required(GgufFile f, String name) {
        GgufTensor t = f.tensor(name);
        if (t == null) {
            throw new ModelFormatException("tensor " + name + " is missing");
        }
        return t;
    }

    private static Matrix matrix(GgufFile f, String name, int rows, int cols) {
        GgufTensor t = required(f, name);
        long[] expected = {cols, rows};
        if (!Arrays.equals(t.dims(), expected)) {
            throw new ModelFormatException("tensor " + name + " has dimensions " + Arrays.toString(t.dims())
                    + ", expected " + Arrays.toString(expected));
        }
        return t.matrix();
    }

    private static float[] vector(GgufFile f, String name, int length) {
        GgufTensor t = required(f, name);
        if (t.elements() != length || t.dims().length != 1) {
            throw new ModelFormatException("tensor " + name + " has dimensions " + Arrays.toString(t.dims())
                    + ", expected [" + length + "]");
        }
        return t.toFloats();
    }

    private static float[] optionalVector(GgufFile f, String name, int length) {
        return f.tensor(name) == null ? null : vector(f, name, length);
    }

    private static int checkedInt(GgufTensor t, int dim) {
        long v = t.dims()[dim];
        if (v > Integer.MAX_VALUE) {
            throw new ModelFormatException("tensor " + t.name() + " dimension " + dim + " is too large: " + v);
        }
        return (int) v;
    }
}
