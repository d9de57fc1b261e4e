package cascadelm.bench;

import cascadelm.bench.eval.PrefillTiming;
import cascadelm.bench.eval.Progress;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.CacheSettings;
import cascadelm.model.llama.LlamaModel;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time of a strided prefill goes, per backend operation ({@link OpTimer}), plus what is spent
 * outside the backend (the session's and cache's own bookkeeping): the profile behind `bench prefill`.
 *
 * <pre>
 * PrefillProfile MODEL [TOKENS=16384] [THREADS=all] [setting=value ...]   e.g. cache=cascade stride=512
 * </pre>
 * One unprofiled warm-up of the same length first, so the JIT has compiled the loops.
 */
public final class PrefillProfile {
    private PrefillProfile() {
    }

    private static final class Silent implements Progress {
        @Override
        public void advance(long tokens) {
        }

        @Override
        public void close() {
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: PrefillProfile MODEL [TOKENS] [THREADS] [setting=value ...]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 16384;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : Runtime.getRuntime().availableProcessors();
        Map<String, String> overrides = new LinkedHashMap<>();
        for (int i = 3; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            overrides.put(kv[0], kv[1]);
        }
        CacheSettings settings = CacheSettings.from(overrides);
        try (LlamaModel m = LlamaModel.open(model); CpuBackend backend = new CpuBackend(threads)) {
            int[] ids = PrefillTiming.tokens(tokens, m.config().vocabularySize(), 42);
            try (Progress none = new Silent()) {
                PrefillTiming.Point plain = PrefillTiming.measure(m, backend, settings, ids, none);
                System.out.printf(Locale.ROOT, "warm-up: %d tokens in %.0f ms = %.0f tokens/s (others used %.0f%% of the CPUs)%n",
                        tokens, plain.nanos() / 1e6, plain.tokensPerSecond(), 100 * plain.othersCpuShare());
                plain = PrefillTiming.measure(m, backend, settings, ids, none);
                System.out.printf(Locale.ROOT, "unprofiled: %d tokens in %.0f ms = %.0f tokens/s (others used %.0f%% of the CPUs)%n",
                        tokens, plain.nanos() / 1e6, plain.tokensPerSecond(), 100 * plain.othersCpuShare());
                OpTimer timer = new OpTimer(backend);
                PrefillTiming.Point p = PrefillTiming.measure(m, timer, settings, ids, none);
                long inBackend = timer.stats().stream().mapToLong(s -> s.nanos).sum();
                System.out.printf(Locale.ROOT, "profiled: %d tokens in %.0f ms = %.0f tokens/s; backend calls %.0f ms, outside the backend %.0f ms (%.0f%%)%n",
                        tokens, p.nanos() / 1e6, p.tokensPerSecond(), inBackend / 1e6, (p.nanos() - inBackend) / 1e6,
                        100.0 * (p.nanos() - inBackend) / p.nanos());
                System.out.println(OpTimer.table(timer.stats(), 40, 500));
            }
        }
    }
}
