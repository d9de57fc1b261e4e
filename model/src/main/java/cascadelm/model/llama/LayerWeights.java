package cascadelm.model.llama;

import cascadelm.kernels.Matrix;

/** The weights of one transformer block. Biases are null where the architecture has none (Llama). */
public record LayerWeights(float[] attentionNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo,
                           float[] bq, float[] bk, float[] bv,
                           float[] ffnNorm, Matrix gate, Matrix up, Matrix down) {
}
