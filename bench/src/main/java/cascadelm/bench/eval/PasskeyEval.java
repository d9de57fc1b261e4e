package cascadelm.bench.eval;

import cascadelm.kernels.Backend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.generate.Generator;
import cascadelm.model.generate.Sampler;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelSession;
import cascadelm.model.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Passkey retrieval (cascade-spec §7): for every length × depth × trial one prompt, read by every policy
 * from an empty cache, then a few greedy tokens; a trial is correct when the answer's first number is the key.
 */
public final class PasskeyEval {

    /** One prompt read by one policy. */
    public record Trial(String key, int promptTokens, String answer, boolean correct, double prefillMs, double decodeMs) {
    }

    /** The trials of one policy at one length and depth. */
    public record Cell(String policy, int length, double depth, List<Trial> trials) {
        public int correct() {
            return (int) trials.stream().filter(Trial::correct).count();
        }

        public double accuracy() {
            return trials.isEmpty() ? 0 : (double) correct() / trials.size();
        }
    }

    private PasskeyEval() {
    }

    /** Greedy tokens after the question: enough for five digits however the tokenizer splits them. */
    public static final int ANSWER_TOKENS = 12;

    public static List<Cell> run(LlamaModel model, Backend backend, List<CacheSettings> policies,
                                 List<Integer> lengths, List<Double> depths, int trials, long seed, Progress progress) {
        Tokenizer tokenizer = model.tokenizer();
        List<Cell> cells = new ArrayList<>();
        for (int length : lengths) {
            for (int d = 0; d < depths.size(); d++) {
                List<List<Trial>> byPolicy = new ArrayList<>();
                for (int p = 0; p < policies.size(); p++) byPolicy.add(new ArrayList<>());
                for (int t = 0; t < trials; t++) {
                    PasskeyPrompt prompt = PasskeyPrompt.build(tokenizer, length, depths.get(d), key(seed, length, d, t));
                    for (int p = 0; p < policies.size(); p++) {
                        byPolicy.get(p).add(trial(model, backend, policies.get(p), prompt));
                        progress.advance(prompt.tokens().length);
                    }
                }
                for (int p = 0; p < policies.size(); p++) {
                    cells.add(new Cell(Sessions.label(policies.get(p)), length, depths.get(d), byPolicy.get(p)));
                }
            }
        }
        return cells;
    }

    static Trial trial(LlamaModel model, Backend backend, CacheSettings settings, PasskeyPrompt prompt) {
        int[] tokens = prompt.tokens();
        ModelSession session = Sessions.fresh(model, backend, settings, tokens.length + ANSWER_TOKENS);
        Generator.Result r = Generator.generate(session, tokens, Sampler.greedy(), ANSWER_TOKENS,
                model.tokenizer().stopTokens(), t -> { });
        String answer = model.tokenizer().decode(r.tokens());
        return new Trial(prompt.key(), tokens.length, answer, PasskeyScore.correct(answer, prompt.key()),
                r.prefillNanos() / 1e6, r.decodeNanos() / 1e6);
    }

    /**
     * The key of one trial depends only on the seed and where the trial sits, so a run over fewer policies,
     * or repeated, asks for the same keys.
     */
    static String key(long seed, int length, int depthIndex, int trial) {
        long mixed = seed * 0x9E3779B97F4A7C15L + length * 1_000_003L + depthIndex * 10_007L + trial;
        return String.format(Locale.ROOT, "%05d", 10_000 + new SplittableRandom(mixed).nextInt(90_000));
    }

    /** Depths for {@code --depths}: a count N gives N evenly spaced fractions from 0 to 1 (one gives 0.5). */
    public static List<Double> depths(String option, String text) {
        String s = text == null ? "" : text.strip();
        List<Double> out = new ArrayList<>();
        if (s.matches("[0-9]+")) {
            int n = Integer.parseInt(s);
            if (n < 1 || n > 101) throw new IllegalArgumentException(option + ": " + n + " depths; give 1 to 101");
            for (int i = 0; i < n; i++) out.add(n == 1 ? 0.5 : (double) i / (n - 1));
            return out;
        }
        for (String part : s.split(",")) {
            double v;
            try {
                v = Double.parseDouble(part.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + ": '" + part.strip()
                        + "' is neither a count of depths (e.g. 10) nor a fraction in [0, 1] (e.g. 0.1,0.5,0.9)");
            }
            if (!(v >= 0 && v <= 1)) throw new IllegalArgumentException(option + ": depth " + part.strip() + " is not in [0, 1]");
            out.add(v);
        }
        return out;
    }
}
