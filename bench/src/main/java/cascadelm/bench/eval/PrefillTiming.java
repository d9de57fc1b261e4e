package cascadelm.bench.eval;

import cascadelm.bench.CpuLoad;
import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;

import java.util.SplittableRandom;

/**
 * Prefill wall time against document length (cascade-spec §5: strided prefill is linear in the length for
 * every bounded policy, quadratic for the full cache). Each measurement reads random tokens into a fresh
 * cache; the cost of attention and matmuls does not depend on what the tokens say.
 */
public final class PrefillTiming {

    /**
     * One measured prefill.
     *
     * @param cpuNanos       CPU time this process spent meanwhile, all threads: steadier than wall time on a
     *                       shared machine
     * @param othersCpuShare share of the machine's CPUs other processes used meanwhile (0..1)
     */
    public record Point(String policy, int tokens, long nanos, long cpuNanos, long cacheBytes, double othersCpuShare) {
        public double msPerToken() {
            return nanos / 1e6 / tokens;
        }

        public double cpuMsPerToken() {
            return cpuNanos / 1e6 / tokens;
        }

        public double tokensPerSecond() {
            return tokens * 1e9 / nanos;
        }
    }

    private PrefillTiming() {
    }

    /** Random token ids below the vocabulary size, the same for a given seed. */
    public static int[] tokens(int n, int vocab, long seed) {
        return new SplittableRandom(seed).ints(n, 0, vocab).toArray();
    }

    /** Reads the tokens in strides, as {@code Generator.prefill} does, advancing the progress per stride. */
    public static Point measure(LlamaModel model, Backend backend, CacheSettings settings, int[] tokens, Progress progress) {
        ModelSession session = Sessions.fresh(model, backend, settings, tokens.length);
        int chunk = session.maxChunk();
        CpuLoad.Snapshot before = CpuLoad.now();
        long t0 = System.nanoTime();
        for (int start = 0; start < tokens.length; start += chunk) {
            int n = Math.min(chunk, tokens.length - start);
            session.forward(tokens, start, n, null);
            progress.advance(n);
        }
        long nanos = System.nanoTime() - t0;
        CpuLoad.Snapshot after = CpuLoad.now();
        return new Point(Sessions.label(settings), tokens.length, nanos,
                Math.round((after.ownSeconds() - before.ownSeconds()) * 1e9), session.cache().bytes(),
                CpuLoad.othersShare(before, after));
    }
}
