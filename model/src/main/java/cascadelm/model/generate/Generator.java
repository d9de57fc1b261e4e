package cascadelm.model.generate;

import cascadelm.model.llama.ModelSession;

import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Prompt in, tokens out: the prompt goes through the session in chunks of the session's chunk size
 * (strided prefill), then tokens are sampled one at a time until a stop token or the token limit.
 */
public final class Generator {

    /** Why generation ended. */
    public enum Stop { STOP_TOKEN, MAX_TOKENS }

    /** Counts and timings of one generation. */
    public record Result(int[] tokens, int promptTokens, Stop stop, long prefillNanos, long decodeNanos) {
        public double prefillTokensPerSecond() {
            return prefillNanos == 0 ? 0 : promptTokens * 1e9 / prefillNanos;
        }

        public double decodeTokensPerSecond() {
            return decodeNanos == 0 ? 0 : tokens.length * 1e9 / decodeNanos;
        }
    }

    private Generator() {
    }

    /** Feeds tokens through the session in chunks; returns the last token's logits. */
    public static float[] prefill(ModelSession session, int[] prompt) {
        return prefill(session, prompt, done -> { });
    }

    /** As {@link #prefill(Session, int[])}, telling {@code progress} how many tokens are done after each chunk. */
    public static float[] prefill(ModelSession session, int[] prompt, IntConsumer progress) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
        float[] logits = null;
        for (int start = 0; start < prompt.length; start += session.maxChunk()) {
            int n = Math.min(session.maxChunk(), prompt.length - start);
            logits = session.forward(prompt, start, n, null);
            progress.accept(start + n);
        }
        return logits;
    }

    /**
     * Generates up to {@code maxTokens} tokens after the prompt, handing each to {@code onToken} as it is
     * made. A stop token ends generation and is not reported.
     */
    public static Result generate(ModelSession session, int[] prompt, Sampler sampler, int maxTokens,
                                  Set<Integer> stopTokens, IntConsumer onToken) {
        return generate(session, prompt, sampler, maxTokens, stopTokens, onToken, done -> { });
    }

    /** As above, reporting prefill progress (prompt tokens done) to {@code prefillProgress}. */
    public static Result generate(ModelSession session, int[] prompt, Sampler sampler, int maxTokens,
                                  Set<Integer> stopTokens, IntConsumer onToken, IntConsumer prefillProgress) {
        if (maxTokens < 0) throw new IllegalArgumentException("max tokens must be ≥ 0, got " + maxTokens);
        long t0 = System.nanoTime();
        float[] logits = prefill(session, prompt, prefillProgress);
        long t1 = System.nanoTime();
        int[] out = new int[maxTokens];
        int produced = 0;
        Stop stop = Stop.MAX_TOKENS;
        int[] one = new int[1];
        // Greedy: after the prompt's logits, the session picks each next token itself (on a GPU only the token
        // comes back, not the logits).
        boolean greedy = sampler.isGreedy();
        int token = maxTokens > 0 ? sampler.sample(logits) : -1;
        while (produced < maxTokens) {
            if (stopTokens.contains(token)) {
                stop = Stop.STOP_TOKEN;
                break;
            }
            out[produced++] = token;
            onToken.accept(token);
            if (produced == maxTokens) break;
            if (greedy) {
                token = session.decodeGreedy(token);
            } else {
                one[0] = token;
                token = sampler.sample(session.forward(one, 0, 1, null));
            }
        }
        long t2 = System.nanoTime();
        return new Result(java.util.Arrays.copyOf(out, produced), prompt.length, stop, t1 - t0, t2 - t1);
    }
}
