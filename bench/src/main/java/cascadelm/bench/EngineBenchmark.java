package cascadelm.bench;

import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;
import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.FullCache;
import cascadelm.model.llama.LayerWeights;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.ModelWeights;
import cascadelm.model.llama.Session;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * How fast the CPU engine runs a Llama 3.2 1B-shaped model, against what the machine allows: decode time
 * against the memory-bandwidth floor (every weight byte read once per token), prefill FLOP rate against
 * the Vector-API FMA peak. Random weights (see {@link RandomModel}): speed does not depend on them.
 *
 * <pre>
 * EngineBenchmark [--types F16,Q8_0,Q4_0] [--threads N] [--prefill 128,512] [--decode 32]
 *                 [--models DIR] [--results DIR] [--no-profile] [--quiet-wait SECONDS]
 * </pre>
 */
public final class EngineBenchmark {
    private static final long SEED = 42;
    private static final int DECODE_PROMPT = 16;
    private static final int PREFILL_RUNS = 2;
    // Measure only when other processes use under 10 % of the CPUs, waiting at most this long for it.
    private static final double QUIET = 0.10;
    private static int quietWaitSeconds = 180;
    private static final int MAX_ATTEMPTS = 3;
    private static final double DECODE_TARGET = 1.5;    // decode time at most 1.5 × the bandwidth floor
    private static final double PREFILL_TARGET = 0.40;  // prefill at least 40 % of the FMA peak

    record Prefill(int tokens, double seconds, double flops) implements Serializable {
        double tokensPerSecond() {
            return tokens / seconds;
        }

        double gflops() {
            return flops / seconds / 1e9;
        }
    }

    /** Decode is reported by the median step (robust to a neighbour's burst); the mean is kept in the JSON. */
    record Result(TensorType type, long fileBytes, long bytesPerToken, List<Prefill> prefill,
                  int decodeTokens, double msPerToken, double meanMsPerToken,
                  double probeGBps, double pairedOverFloor,
                  List<OpTimer.Stat> prefillProfile, List<OpTimer.Stat> decodeProfile,
                  double othersCpu, double steal) implements Serializable {
        double decodeTokensPerSecond() {
            return 1e3 / msPerToken;
        }

        double floorMs(MachinePeaks.Peaks p) {
            return 1e3 * bytesPerToken / (p.readGBps() * 1e9);
        }
    }

    private EngineBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        List<TensorType> types = List.of(TensorType.F16, TensorType.Q8_0, TensorType.Q4_0);
        int threads = Runtime.getRuntime().availableProcessors();
        int[] prefill = {128, 512};
        int decode = 32;
        Path models = Path.of("bench/target/models");
        Path results = Path.of("bench/results");
        boolean profile = true;
        Path childOut = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--types" -> types = Arrays.stream(args[++i].split(",")).map(TensorType::valueOf).toList();
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--prefill" -> prefill = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--decode" -> decode = Integer.parseInt(args[++i]);
                case "--models" -> models = Path.of(args[++i]);
                case "--results" -> results = Path.of(args[++i]);
                case "--no-profile" -> profile = false;
                case "--quiet-wait" -> quietWaitSeconds = Integer.parseInt(args[++i]);
                case "--child-out" -> childOut = Path.of(args[++i]);   // internal: one type, result to this file
                default -> {
                    System.err.println("unknown argument " + args[i]);
                    System.exit(2);
                }
            }
        }

        if (childOut != null) {
            Path file = RandomModel.ensure(models, RandomModel.Shape.LLAMA_3_2_1B, types.getFirst(), SEED);
            Result r = run(file, types.getFirst(), threads, prefill, decode, profile);
            try (ObjectOutputStream out = new ObjectOutputStream(Files.newOutputStream(childOut))) {
                out.writeObject(r);
            }
            return;
        }

        // The machine is shared and its peaks vary up to 2× from one measurement to the next: they are
        // sampled before, between and after the engine runs, and the best of each figure is used, so that
        // neither the floor nor the peak is measured low and flatters the engine.
        List<MachinePeaks.Peaks> samples = new ArrayList<>();
        samples.add(samplePeaks(threads));
        MachinePeaks.Peaks peaks = samples.getFirst();

        List<Result> all = new ArrayList<>();
        for (TensorType type : types) {
            System.out.println("\n== " + type);
            long t0 = System.nanoTime();
            Path file = RandomModel.ensure(models, RandomModel.Shape.LLAMA_3_2_1B, type, SEED);
            System.out.printf(Locale.ROOT, "model %s (%.2f GB, ready in %.0f s)%n", file,
                    Files.size(file) / 1e9, (System.nanoTime() - t0) / 1e9);
            all.add(runInChildJvm(args, type));
            samples.add(samplePeaks(threads));
            peaks = peaks.max(samples.getLast());
        }

        String command = System.getenv().getOrDefault("BENCH_COMMAND",
                ProcessHandle.current().info().commandLine().orElse("?"));
        String md = markdown(all, peaks, samples, threads, command);
        Files.createDirectories(results);
        Files.writeString(results.resolve("engine-cpu.md"), md);
        Files.writeString(results.resolve("engine-cpu.json"), json(all, peaks, samples, threads, command));
        System.out.println();
        for (Result r : all) {
            if (!r.prefillProfile().isEmpty()) {
                System.out.println(r.type() + " prefill 128 profile:\n" + OpTimer.table(r.prefillProfile(), peaks.readGBps(), peaks.fmaGflops()));
                System.out.println(r.type() + " decode profile:\n" + OpTimer.table(r.decodeProfile(), peaks.readGBps(), peaks.fmaGflops()));
            }
        }
        System.out.println(spread(samples));
        System.out.println(table(all, peaks));
        System.out.println("written: " + results.resolve("engine-cpu.md") + ", " + results.resolve("engine-cpu.json"));
    }

    /**
     * Runs one type in a fresh JVM with this one's flags, as a real process serves one model: in a shared
     * JVM the kernels' call sites, having seen the earlier types, become polymorphic and slow the later ones.
     */
    private static Result runInChildJvm(String[] args, TensorType type) throws Exception {
        Path out = Files.createTempFile("engine-bench-" + type, ".result");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(ProcessHandle.current().info().command().orElse("java"));
            cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), EngineBenchmark.class.getName()));
            cmd.addAll(Arrays.asList(args));
            cmd.addAll(List.of("--types", type.name(), "--child-out", out.toString()));   // later flags win
            int rc = new ProcessBuilder(cmd).inheritIO().start().waitFor();
            if (rc != 0) throw new IllegalStateException("the " + type + " run failed (exit " + rc + ")");
            try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(out))) {
                return (Result) in.readObject();
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static MachinePeaks.Peaks samplePeaks(int threads) throws Exception {
        CpuLoad.waitForQuiet(QUIET, quietWaitSeconds);
        System.out.println("measuring machine peaks on " + threads + " threads...");
        MachinePeaks.Peaks p = MachinePeaks.measure(threads);
        System.out.println(p.describe());
        return p;
    }

    /** The range of the all-core figures over the samples: how noisy the machine was. */
    static String spread(List<MachinePeaks.Peaks> samples) {
        return String.format(Locale.ROOT, "peak samples (%d): read %.1f–%.1f GB/s, FMA %.0f–%.0f GFLOP/s (all cores); the best is used",
                samples.size(),
                samples.stream().mapToDouble(MachinePeaks.Peaks::readGBps).min().orElseThrow(),
                samples.stream().mapToDouble(MachinePeaks.Peaks::readGBps).max().orElseThrow(),
                samples.stream().mapToDouble(MachinePeaks.Peaks::fmaGflops).min().orElseThrow(),
                samples.stream().mapToDouble(MachinePeaks.Peaks::fmaGflops).max().orElseThrow());
    }

    static Result run(Path file, TensorType type, int threads, int[] prefillLengths, int decodeSteps,
                      boolean profile) throws Exception {
        int maxChunk = Arrays.stream(prefillLengths).max().orElse(1);
        try (LlamaModel model = LlamaModel.open(file); Backend backend = new CpuBackend(threads);
             BandwidthProbe probe = new BandwidthProbe(threads)) {
            ModelConfig c = model.config();
            long bytes = bytesPerDecodedToken(model.weights(), c);
            int[] tokens = randomTokens(c.vocabularySize(), Math.max(maxChunk, 136) + DECODE_PROMPT + decodeSteps);

            // Warm-up: the JIT compiles the chunk (n > 1) and the single-token (n = 1) paths, and the first
            // pass pulls every weight page of the mapped file into memory. Decode steps are many and short,
            // so they get more rounds (8 were too few: C2 had not finished with the n = 1 kernels).
            System.out.println("warming up...");
            for (int round = 0; round < 2; round++) {
                Session warm = session(model, backend, maxChunk);
                warm.forward(tokens, 0, Math.min(64, maxChunk), null);
                for (int i = 0; i < 24; i++) warm.forward(tokens, 64 + i, 1, null);
                probe.readGBps();
            }

            // Measured again (up to MAX_ATTEMPTS) when another process took over 10 % of the CPUs meanwhile:
            // the attempt with the least interference is kept.
            Timed t = null;
            for (int attempt = 0; attempt < MAX_ATTEMPTS && (t == null || t.othersCpu() >= QUIET); attempt++) {
                Timed next = time(model, backend, probe, bytes, tokens, prefillLengths, decodeSteps, maxChunk);
                if (t == null || next.othersCpu() < t.othersCpu()) t = next;
            }
            System.out.printf(Locale.ROOT, "weights read per decoded token: %.1f MB%n", bytes / 1e6);

            List<OpTimer.Stat> prefillProfile = List.of(), decodeProfile = List.of();
            if (profile) {
                // Per-op times of one 128-token chunk, then of 8 decode steps after it, through the timing wrapper.
                OpTimer timer = new OpTimer(backend);
                Session p = new Session(model, timer, cache(model), 128);
                p.forward(tokens, 0, 128, null);
                prefillProfile = timer.stats();
                timer.reset();
                for (int i = 0; i < 8; i++) p.forward(tokens, 128 + i, 1, null);
                decodeProfile = timer.stats();
            }
            return new Result(type, Files.size(file), bytes, t.prefill(), decodeSteps, t.medianMs(), t.meanMs(),
                    t.probeGBps(), t.pairedOverFloor(), prefillProfile, decodeProfile, t.othersCpu(), t.steal());
        }
    }

    /**
     * One timing of prefill and decode, with the CPU share other processes took meanwhile; probeGBps is the
     * median of the bandwidth probes taken beside the decode steps, pairedOverFloor the median over steps of
     * the step's time over the floor at its own probe's bandwidth.
     */
    record Timed(List<Prefill> prefill, double medianMs, double meanMs, double probeGBps, double pairedOverFloor,
                 double othersCpu, double steal) {
    }

    private static Timed time(LlamaModel model, Backend backend, BandwidthProbe probe, long bytesPerToken, int[] tokens,
                              int[] prefillLengths, int decodeSteps, int maxChunk) throws Exception {
        CpuLoad.waitForQuiet(QUIET, quietWaitSeconds);
        CpuLoad.Snapshot load0 = CpuLoad.now();
        List<Prefill> prefill = new ArrayList<>();
        for (int n : prefillLengths) {
            double sec = Double.MAX_VALUE;
            for (int run = 0; run < PREFILL_RUNS; run++) {   // best of a few: the machine is shared
                Session s = session(model, backend, maxChunk);
                long t0 = System.nanoTime();
                s.forward(tokens, 0, n, null);
                sec = Math.min(sec, (System.nanoTime() - t0) / 1e9);
            }
            prefill.add(new Prefill(n, sec, prefillFlops(model.config(), n)));
            System.out.printf(Locale.ROOT, "prefill %d tokens: %.2f s, %.1f tokens/s, %.1f GFLOP/s%n",
                    n, sec, n / sec, prefill.getLast().gflops());
        }

        Session s = session(model, backend, maxChunk);
        float[] logits = s.forward(tokens, 0, DECODE_PROMPT, null);
        int[] one = new int[1];
        double[] stepMs = new double[decodeSteps], probeGBps = new double[decodeSteps], overFloor = new double[decodeSteps];
        for (int i = 0; i < decodeSteps; i++) {
            one[0] = argmax(logits);   // greedy, as a real decode would feed its own output back
            // Each step is paired with a bandwidth probe right beside it, before and after in turn.
            if (i % 2 == 1) probeGBps[i] = probe.readGBps();
            long t0 = System.nanoTime();
            logits = s.forward(one, 0, 1, null);
            stepMs[i] = (System.nanoTime() - t0) / 1e6;
            if (i % 2 == 0) probeGBps[i] = probe.readGBps();
            overFloor[i] = stepMs[i] / floorMs(bytesPerToken, probeGBps[i]);
        }
        CpuLoad.Snapshot load1 = CpuLoad.now();
        double meanMs = Arrays.stream(stepMs).sum() / decodeSteps;
        double minMs = Arrays.stream(stepMs).min().orElseThrow();
        Timed t = new Timed(prefill, median(stepMs), meanMs, median(probeGBps), median(overFloor),
                CpuLoad.othersShare(load0, load1), CpuLoad.stealShare(load0, load1));
        System.out.printf(Locale.ROOT, "decode %d tokens: median %.1f ms/token (mean %.1f, min %.1f); probes beside the steps "
                        + "read %.1f GB/s (median, range %.1f-%.1f), step / paired floor %.2f× (median); "
                        + "other processes used %.0f%% of the CPUs meanwhile (steal %.0f%%)%n",
                decodeSteps, t.medianMs(), meanMs, minMs, t.probeGBps(), Arrays.stream(probeGBps).min().orElseThrow(),
                Arrays.stream(probeGBps).max().orElseThrow(), t.pairedOverFloor(), 100 * t.othersCpu(), 100 * t.steal());
        return t;
    }

    /** Milliseconds to read {@code bytes} at {@code gbps}. */
    static double floorMs(long bytes, double gbps) {
        return 1e3 * bytes / (gbps * 1e9);
    }

    /** The median (mean of the middle two for an even count). */
    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static Session session(LlamaModel model, Backend backend, int maxChunk) {
        return new Session(model, backend, cache(model), maxChunk);
    }

    private static FullCache cache(LlamaModel model) {
        ModelConfig c = model.config();
        return new FullCache(c.layers(), c.kvHeads(), c.headDim(), 1024);
    }

    /**
     * FLOPs of one chunk of n tokens from position 0: 2 per matmul parameter per token, the output
     * matrix once (only the last token's logits are computed), and causal attention (query i scores and
     * weighs i + 1 keys: 4·headDim flops per key per head).
     */
    static double prefillFlops(ModelConfig c, int n) {
        double layerParams = (double) c.dim() * (2L * c.qDim() + 2L * c.kvDim()) + 3.0 * c.dim() * c.ffnDim();
        double matmul = 2.0 * n * c.layers() * layerParams + 2.0 * c.vocabularySize() * c.dim();
        double attention = 4.0 * c.layers() * c.qDim() * (n * (n + 1.0) / 2);
        return matmul + attention;
    }

    /**
     * Weight bytes one decoded token reads: every layer matrix, the whole output matrix (tied to the
     * embedding here), one embedding row, and the norm vectors (F32). The KV cache (a few dozen
     * positions here) is left out.
     */
    static long bytesPerDecodedToken(ModelWeights w, ModelConfig c) {
        long bytes = 0;
        for (LayerWeights l : w.layers()) {
            for (Matrix m : List.of(l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down())) {
                bytes += m.rows() * m.rowBytes();
            }
            bytes += 2L * c.dim() * Float.BYTES;
        }
        bytes += w.output().rows() * w.output().rowBytes();
        bytes += w.tokenEmbedding().rowBytes();
        bytes += (long) c.dim() * Float.BYTES;
        return bytes;
    }

    private static int[] randomTokens(int vocab, int n) {
        SplittableRandom r = new SplittableRandom(SEED);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = r.nextInt(vocab);
        return t;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    // ---- reporting ----

    static String table(List<Result> results, MachinePeaks.Peaks p) {
        StringBuilder sb = new StringBuilder();
        sb.append("| type | file GB | ");
        for (Prefill pf : results.getFirst().prefill()) {
            sb.append("prefill ").append(pf.tokens()).append(" tok/s | % FMA peak | ");
        }
        sb.append("decode tok/s | ms/token (median) | floor ms | × floor | probe GB/s | × paired floor | others' CPU |\n|---|---:|");
        sb.append("---:|---:|".repeat(results.getFirst().prefill().size()));
        sb.append("---:|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            sb.append(String.format(Locale.ROOT, "| %s | %.2f | ", r.type(), r.fileBytes() / 1e9));
            for (Prefill pf : r.prefill()) {
                sb.append(String.format(Locale.ROOT, "%.1f | %.1f%% | ", pf.tokensPerSecond(), 100 * pf.gflops() / p.fmaGflops()));
            }
            sb.append(String.format(Locale.ROOT, "%.2f | %.1f | %.1f | %.2f× | %.1f | %.2f× | %.0f%% |%n", r.decodeTokensPerSecond(),
                    r.msPerToken(), r.floorMs(p), r.msPerToken() / r.floorMs(p), r.probeGBps(), r.pairedOverFloor(),
                    100 * r.othersCpu()));
        }
        sb.append(String.format(Locale.ROOT, "%nTargets: decode ≤ %.1f× floor; prefill ≥ %.0f%% of the FMA peak "
                + "(%.0f GFLOP/s); floor = weight bytes per token / %.1f GB/s (best of the peak samples);%n"
                + "probe GB/s = median of the %d-thread read probes taken beside the decode steps, one per step; × paired floor = "
                + "median over the steps of the step's time / (bytes per token / its own probe's bandwidth);%n"
                + "others' CPU = share of the cores other processes used while the row was measured.", DECODE_TARGET, 100 * PREFILL_TARGET,
                p.fmaGflops(), p.readGBps(), p.threads()));
        return sb.toString();
    }

    private static String markdown(List<Result> results, MachinePeaks.Peaks p, List<MachinePeaks.Peaks> samples,
                                   int threads, String command) {
        StringBuilder sb = new StringBuilder();
        sb.append("# CPU engine benchmark: Llama 3.2 1B shape, random weights\n\n");
        sb.append("- date: ").append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME)).append('\n');
        sb.append("- machine: ").append(machine()).append('\n');
        sb.append("- JVM: ").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.version"))
                .append(", ").append(threads).append(" backend threads\n");
        sb.append("- command: `").append(command).append("`\n");
        sb.append(String.format(Locale.ROOT, "- peaks (best of 8 runs per sample; sampled before, between and after the engine runs):"
                        + " memory read %.1f GB/s on 1 thread, %.1f GB/s on %d; Vector-API FMA %.1f GFLOP/s on 1 thread,"
                        + " %.1f GFLOP/s on %d (%d float lanes)%n",
                p.readGBps1(), p.readGBps(), p.threads(), p.fmaGflops1(), p.fmaGflops(), p.threads(), p.lanes()));
        sb.append("- ").append(spread(samples)).append("\n\n");
        sb.append(table(results, p)).append("\n\n");
        sb.append("Prefill: one chunk through `Session.forward` from an empty cache, best of ").append(PREFILL_RUNS)
                .append("; FLOPs = 2 × matmul parameters per token"
                + " + the output matrix once (last token's logits) + causal attention. Decode: ")
                .append(results.getFirst().decodeTokens()).append(" greedy single-token steps after a ").append(DECODE_PROMPT)
                .append("-token prompt, median step; bytes per token = all layer matrices + the whole tied output matrix + one embedding row + norms.\n")
                .append("\nTwo floors. The host is shared and the bandwidth it leaves us varies about 2× within minutes, so the best of the"
                        + " peak samples (the `floor ms` and `× floor` columns, kept for comparison with earlier files) sets a median step"
                        + " against an outlier. Each decode step is therefore also paired with a bandwidth probe taken right beside it"
                        + " (a 512 MB read on the same number of threads, before and after the step in turn); `× paired floor` is the"
                        + " median over the steps of the step's time over the floor at its own probe's bandwidth.\n");
        for (Result r : results) {
            if (!r.prefillProfile().isEmpty()) {
                sb.append("\n## Per-op profile, ").append(r.type()).append("\n\nPrefill, one chunk of 128 tokens:\n\n")
                        .append(OpTimer.table(r.prefillProfile(), p.readGBps(), p.fmaGflops()))
                        .append("\nDecode, 8 steps after those 128 tokens:\n\n")
                        .append(OpTimer.table(r.decodeProfile(), p.readGBps(), p.fmaGflops()));
            }
        }
        return sb.toString();
    }

    private static String json(List<Result> results, MachinePeaks.Peaks p, List<MachinePeaks.Peaks> samples,
                               int threads, String command) {
        String rows = results.stream().map(r -> String.format(Locale.ROOT,
                "    {\"type\": \"%s\", \"fileBytes\": %d, \"bytesPerDecodedToken\": %d, \"prefill\": [%s], "
                        + "\"decodeTokens\": %d, \"decodeTokensPerSecond\": %.3f, \"medianMsPerToken\": %.2f, \"meanMsPerToken\": %.2f, "
                        + "\"floorMs\": %.2f, \"decodeOverFloor\": %.3f, \"probeReadGBpsMedian\": %.2f, \"decodeOverPairedFloor\": %.3f, "
                        + "\"othersCpuShare\": %.3f, \"stealShare\": %.3f}",
                r.type(), r.fileBytes(), r.bytesPerToken(),
                r.prefill().stream().map(pf -> String.format(Locale.ROOT,
                        "{\"tokens\": %d, \"seconds\": %.3f, \"tokensPerSecond\": %.2f, \"gflops\": %.1f, \"fractionOfFmaPeak\": %.4f}",
                        pf.tokens(), pf.seconds(), pf.tokensPerSecond(), pf.gflops(), pf.gflops() / p.fmaGflops()))
                        .collect(Collectors.joining(", ")),
                r.decodeTokens(), r.decodeTokensPerSecond(), r.msPerToken(), r.meanMsPerToken(), r.floorMs(p), r.msPerToken() / r.floorMs(p),
                r.probeGBps(), r.pairedOverFloor(), r.othersCpu(), r.steal()))
                .collect(Collectors.joining(",\n"));
        return String.format(Locale.ROOT, """
                {
                  "benchmark": "engine-cpu",
                  "model": "llama3.2-1b shape, random weights, seed %d",
                  "date": "%s",
                  "machine": "%s",
                  "threads": %d,
                  "command": "%s",
                  "peaks": {"readGBps1": %.2f, "readGBps": %.2f, "fmaGflops1": %.1f, "fmaGflops": %.1f, "floatLanes": %d},
                  "peakSamples": {"readGBps": [%s], "fmaGflops": [%s]},
                  "targets": {"decodeOverFloorMax": %.1f, "prefillFractionOfFmaPeakMin": %.2f},
                  "results": [
                %s
                  ]
                }
                """, SEED, ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME), jsonEscape(machine()), threads,
                jsonEscape(command), p.readGBps1(), p.readGBps(), p.fmaGflops1(), p.fmaGflops(), p.lanes(),
                samples.stream().map(x -> String.format(Locale.ROOT, "%.2f", x.readGBps())).collect(Collectors.joining(", ")),
                samples.stream().map(x -> String.format(Locale.ROOT, "%.1f", x.fmaGflops())).collect(Collectors.joining(", ")),
                DECODE_TARGET, PREFILL_TARGET, rows);
    }

    /** CPU model (from /proc/cpuinfo), core count and memory. */
    static String machine() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse(cpu);
        } catch (IOException e) {
            // not Linux: keep "unknown CPU"
        }
        long memGiB = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getTotalMemorySize() >> 30;
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores, " + memGiB + " GiB RAM, "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch");
    }

    private static String jsonEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
