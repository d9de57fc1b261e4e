package cascadelm.bench;

import cascadelm.kernels.cpu.CpuBackend;
import cascadelm.model.cache.FullCache;
import cascadelm.model.llama.LlamaModel;
import cascadelm.model.llama.ModelConfig;
import cascadelm.model.llama.Session;

import java.nio.file.Path;

/**
 * Greedy single-token decode steps on one model, timed one at a time: what {@link DecodeAB} loads once per
 * build under comparison, each copy in its own class loader with its own gpu-kernels classes. Public with
 * plain-typed methods because DecodeAB calls it reflectively across loaders.
 */
public final class DecodeStepper implements AutoCloseable {
    private static final int PROMPT = 16;
    /** Steps before the session starts over, well inside the cache's capacity. */
    private static final int SESSION_STEPS = 256;

    private final LlamaModel model;
    private final CpuBackend backend;
    private final int[] prompt;
    private Session session;
    private float[] logits;
    private int steps;
    private final int[] one = new int[1];

    public DecodeStepper(String modelPath, int threads) throws Exception {
        model = LlamaModel.open(Path.of(modelPath));
        backend = new CpuBackend(threads);
        prompt = new int[PROMPT];
        for (int i = 0; i < PROMPT; i++) prompt[i] = 1000 + 37 * i;   // any in-vocabulary tokens
        restart();
    }

    private void restart() {
        ModelConfig c = model.config();
        session = new Session(model, backend, new FullCache(c.layers(), c.kvHeads(), c.headDim(), PROMPT + SESSION_STEPS + 1), PROMPT);
        logits = session.forward(prompt, 0, PROMPT, null);
        steps = 0;
    }

    /** One decode step; returns its wall time in milliseconds. */
    public double step() {
        if (steps == SESSION_STEPS) restart();
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        one[0] = best;
        long t0 = System.nanoTime();
        logits = session.forward(one, 0, 1, null);
        steps++;
        return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * One decode step; returns the CPU time this process spent on it (all threads) in milliseconds: on a
     * machine whose cores other processes share, the time slices they took are left out.
     */
    public double cpuStep() {
        if (steps == SESSION_STEPS) restart();
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        one[0] = best;
        long t0 = OS.getProcessCpuTime();
        logits = session.forward(one, 0, 1, null);
        steps++;
        return (OS.getProcessCpuTime() - t0) / 1e6;
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** Weight bytes one decoded token reads (the same count as {@link EngineBenchmark}'s floor). */
    public long bytesPerToken() {
        return EngineBenchmark.bytesPerDecodedToken(model.weights(), model.config());
    }

    @Override
    public void close() throws Exception {
        backend.close();
        model.close();
    }
}
