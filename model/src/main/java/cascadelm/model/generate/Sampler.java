package cascadelm.model.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy at temperature 0, otherwise softmax at the temperature,
 * restricted to the top-k tokens and then to the smallest set whose probability reaches top-p.
 * Seeded, so a run can be repeated exactly.
 */
public final class Sampler {
    private final float temperature;
    private final int topK;
    private final float topP;
    private final SplittableRandom random;

    /**
     * @param topK 0 means no top-k limit
     * @param topP 1 means no nucleus limit
     */
    public Sampler(float temperature, int topK, float topP, long seed) {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (topK < 0) throw new IllegalArgumentException("top-k must be ≥ 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public static Sampler greedy() {
        return new Sampler(0, 0, 1, 0);
    }

    /**
     * True at temperature 0: the token is the argmax of the logits, which a session may take itself
     * ({@link cascadelm.model.llama.ModelSession#decodeGreedy}).
     */
    public boolean isGreedy() {
        return temperature == 0;
    }

    public int sample(float[] logits) {
        if (temperature == 0) return argmax(logits);
        int n = logits.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        // Sorting the whole vocabulary once per token is cheap next to a forward pass.
        Arrays.sort(order, (a, b) -> Float.compare(logits[b], logits[a]));
        int keep = topK > 0 ? Math.min(topK, n) : n;
        double max = logits[order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            p[i] = Math.exp((logits[order[i]] - max) / temperature);
            sum += p[i];
        }
        double cumulative = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++) {
            cumulative += p[i] / sum;
            if (cumulative >= topP) {
                cut = i + 1;
                break;
            }
        }
        double total = 0;
        for (int i = 0; i < cut; i++) total += p[i];
        double r = random.nextDouble() * total;
        for (int i = 0; i < cut; i++) {
            r -= p[i];
            if (r < 0) return order[i];
        }
        return order[cut - 1];
    }

    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) best = i;
        }
        return best;
    }
}
