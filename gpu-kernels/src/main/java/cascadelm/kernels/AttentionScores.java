package cascadelm.kernels;

/**
 * A request, passed along with an attention call, for weighted column sums of the attention
 * probabilities: what the cascading cache's score EMA needs (cascade-spec §4).
 *
 * <p>For query head h, query i of the chunk and key j, with {@code P[h,i,j]} the softmax probability:
 * <pre>
 *   out[h * nKeys + j] += Σ_i w(i, j) · P[h, i, j]
 *   w(i, j) = weightByQuery[i]               for keys before the chunk (j &lt; nKeys − nQ)
 *   w(i, j) = weightByDistance[i − (j − c)]  for the chunk's own keys, c = nKeys − nQ, i ≥ j − c
 * </pre>
 * Probabilities are exact (normalised over the whole row), never estimates.
 */
public record AttentionScores(float[] weightByQuery, float[] weightByDistance, float[] out) {
}
