package cascadelm.bench.eval;

import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;

/**
 * Streaming perplexity (cascade-spec §7, PG19): the document is read once, in strides, through the policy's
 * cache; every token after the first is scored by the logits its predecessor produced inside its stride.
 */
public final class StreamingPerplexity {

    /**
     * @param nll   negative log-likelihood (nats) of token i+1 given tokens 0..i, for i in [0, n−1)
     * @param nanos wall time of the whole pass
     */
    public record Result(double[] nll, long nanos) {
        public double meanNll() {
            double sum = 0;
            for (double v : nll) sum += v;
            return nll.length == 0 ? Double.NaN : sum / nll.length;
        }

        public double perplexity() {
            return Math.exp(meanNll());
        }
    }

    private StreamingPerplexity() {
    }

    public static Result run(LlamaModel model, Backend backend, CacheSettings settings, int[] tokens, Progress progress) {
        if (tokens.length < 2) throw new IllegalArgumentException("perplexity needs at least 2 tokens, got " + tokens.length);
        int vocab = model.config().vocabularySize();
        ModelSession session = Sessions.fresh(model, backend, settings, tokens.length);
        int chunk = session.maxChunk();
        float[] logits = new float[chunk * vocab];
        double[] nll = new double[tokens.length - 1];
        long t0 = System.nanoTime();
        for (int start = 0; start < tokens.length; start += chunk) {
            int n = Math.min(chunk, tokens.length - start);
            session.forward(tokens, start, n, logits);
            for (int i = 0; i < n && start + i + 1 < tokens.length; i++) {
                nll[start + i] = -logSoftmax(logits, i * vocab, vocab, tokens[start + i + 1]);
            }
            progress.advance(n);
        }
        return new Result(nll, System.nanoTime() - t0);
    }

    /** log p(target) from one row of logits, in double with the max subtracted so large logits do not overflow. */
    public static double logSoftmax(float[] logits, int offset, int vocab, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < vocab; j++) max = Math.max(max, logits[offset + j]);
        double sum = 0;
        for (int j = 0; j < vocab; j++) sum += Math.exp(logits[offset + j] - max);
        return logits[offset + target] - max - Math.log(sum);
    }

    /**
     * Mean NLL over consecutive bins of {@code binSize} predictions: rows of (position of the bin's middle
     * predicted token, mean NLL). The last bin may be shorter.
     */
    public static double[][] binned(double[] nll, int binSize) {
        int bins = (nll.length + binSize - 1) / binSize;
        double[][] out = new double[bins][2];
        for (int b = 0; b < bins; b++) {
            int from = b * binSize;
            int to = Math.min(nll.length, from + binSize);
            double sum = 0;
            for (int i = from; i < to; i++) sum += nll[i];
            out[b][0] = 1 + (from + to - 1) / 2.0;   // nll[i] predicts token i+1
            out[b][1] = sum / (to - from);
        }
        return out;
    }
}
