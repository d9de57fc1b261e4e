package cascadelm.model.llama;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Rope;

import java.util.List;

/** All weights of a model; {@code output} is the token embedding itself when the file ties them. */
public record ModelWeights(Matrix tokenEmbedding, List<LayerWeights> layers, float[] outputNorm, Matrix output,
                           Rope rope) {
}
