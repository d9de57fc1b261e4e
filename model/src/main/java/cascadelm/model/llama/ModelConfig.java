package cascadelm.model.llama;

import cascadelm.kernels.Rope;
import cascadelm.model.gguf.Metadata;
import cascadelm.model.gguf.ModelFormatException;

/**
 * The shape of a Llama-family transformer, as declared by a GGUF file's metadata.
 *
 * @param architecture   "llama" or "qwen2"
 * @param headDim        dimension of one attention head (need not be dim / heads)
 * @param contextLength  the context the model was trained with (informational: the caches decide what is kept)
 */
public record ModelConfig(String architecture, int dim, int layers, int heads, int kvHeads, int headDim,
                          int ffnDim, int vocabularySize, int contextLength, float rmsEps,
                          double ropeTheta, boolean neoxRope) {

    /** Architectures whose tensors and metadata this engine reads. */
    public static final java.util.List<String> SUPPORTED = java.util.List.of("llama", "qwen2");

    public ModelConfig {
        String p = architecture + ".";
        check(dim > 0, p + "embedding_length", dim, "must be at least 1");
        check(layers > 0, p + "block_count", layers, "must be at least 1");
        check(heads > 0, p + "attention.head_count", heads, "must be at least 1");
        check(kvHeads > 0 && heads % kvHeads == 0, p + "attention.head_count_kv", kvHeads,
                "must be at least 1 and divide head_count " + heads);
        check(headDim > 0 && headDim % 2 == 0, p + "attention.key_length", headDim,
                "the head dimension must be even and at least 2");
        // qDim() and kvDim() are ints: an overflow could wrap to a size that the tensors happen to match.
        check((long) heads * headDim <= Integer.MAX_VALUE, p + "attention.key_length", headDim,
                "head_count " + heads + " × head dimension exceeds " + Integer.MAX_VALUE);
        check(ffnDim > 0, p + "feed_forward_length", ffnDim, "must be at least 1");
        check(vocabularySize > 0, "vocabulary size", vocabularySize, "must be at least 1");
    }

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    /** Reads the configuration; {@code vocabularySize} comes from the token embedding tensor. */
    public static ModelConfig fromMetadata(Metadata m, int vocabularySize) {
        String arch = m.string("general.architecture");
        if (!SUPPORTED.contains(arch)) {
            throw new ModelFormatException("general.architecture: '" + arch + "' is not supported (supported: "
                    + String.join(", ", SUPPORTED) + ")");
        }
        String p = arch + ".";
        int dim = m.size(p + "embedding_length");
        int heads = m.size(p + "attention.head_count");
        int kvHeads = m.has(p + "attention.head_count_kv") ? m.size(p + "attention.head_count_kv") : heads;
        int headDim = m.has(p + "attention.key_length") ? m.size(p + "attention.key_length") : dim / Math.max(1, heads);
        return new ModelConfig(arch, dim, m.size(p + "block_count"), heads, kvHeads, headDim,
                m.size(p + "feed_forward_length"), vocabularySize,
                (int) Math.min(Integer.MAX_VALUE, m.integer(p + "context_length", 4096)),
                (float) m.number(p + "attention.layer_norm_rms_epsilon", 1e-5),
                m.number(p + "rope.freq_base", 10000.0),
                // llama.cpp's converter permutes Llama's Q/K rows to interleaved pairs; Qwen2 keeps NeoX halves.
                arch.equals("qwen2"));
    }

    /**
     * The rotary embedding: plain frequencies, divided per pair by the {@code rope_freqs} factors when the
     * file has them (how llama.cpp stores Llama 3.1 scaling), or by a linear scaling factor.
     */
    public Rope rope(Metadata m, float[] ropeFactors) {
        int rotaryDims = m.has(architecture + ".rope.dimension_count")
                ? m.size(architecture + ".rope.dimension_count") : headDim;
        if (rotaryDims <= 0 || rotaryDims > headDim || rotaryDims % 2 != 0) {
            throw new ModelFormatException(architecture + ".rope.dimension_count: " + rotaryDims
                    + " must be even and at most the head dimension " + headDim);
        }
        Rope plain = Rope.standard(rotaryDims, ropeTheta, neoxRope);
        float[] f = plain.inverseFrequencies().clone();
        if (ropeFactors != null) {
            if (ropeFactors.length != f.length) {
                throw new ModelFormatException("tensor rope_freqs.weight has " + ropeFactors.length
                        + " factors, expected " + f.length + " (rotary dimensions / 2)");
            }
            for (int i = 0; i < f.length; i++) f[i] /= ropeFactors[i];
        }
        String scaling = m.string(architecture + ".rope.scaling.type", "none");
        if (scaling.equals("linear")) {
            double factor = m.number(architecture + ".rope.scaling.factor", 1.0);
            if (!(factor > 0)) {
                throw new ModelFormatException(architecture + ".rope.scaling.factor must be positive, is " + factor);
            }
            for (int i = 0; i < f.length; i++) f[i] /= (float) factor;
        } else if (!scaling.equals("none")) {
            throw new ModelFormatException(architecture + ".rope.scaling.type '" + scaling
                    + "' is not supported (supported: none, linear, and llama3 through rope_freqs.weight)");
        }
        return new Rope(rotaryDims, f, neoxRope);
    }

    private static void check(boolean ok, String key, int value, String rule) {
        if (!ok) throw new ModelFormatException("metadata " + key + ": " + value + " is invalid (" + rule + ")");
    }
}
