package cascadelm.bench;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;
import cascadelm.kernels.cpu.CpuBackend;

import java.lang.foreign.Arena;
import java.util.Random;

/**
 * One matmul shape on one backend, timed call by call: what {@link MatmulAB} loads once per gpu-kernels
 * build under comparison (each in its own class loader). With one token row the call cycles through copies
 * of the matrix adding up to at least 256 MB, so every call streams its weights from memory as decoding
 * does; with more rows one copy serves (prefill is compute-bound). Public with plain-typed methods because
 * MatmulAB calls it reflectively.
 */
public final class MatmulStepper implements AutoCloseable {
    private static final double STREAM_BYTES = 256e6;

    private final Arena arena = Arena.ofShared();
    private final CpuBackend backend;
    private final Matrix[] copies;
    private final float[] x;
    private final float[] out;
    private final int n;
    private int next;

    /** @param inCache one copy of the matrix whatever n is: times the kernel on weights in cache */
    public MatmulStepper(String type, int rows, int cols, int n, int threads, long seed, boolean inCache) {
        TensorType t = TensorType.valueOf(type);
        Random r = new Random(seed);
        float[] v = new float[rows * cols];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        Matrix w = Quantizer.matrix(arena, t, v, rows, cols);
        int count = n == 1 && !inCache ? (int) Math.max(1, Math.ceil(STREAM_BYTES / (rows * (double) w.rowBytes()))) : 1;
        copies = new Matrix[count];
        for (int i = 0; i < count; i++) {
            copies[i] = i == 0 ? w : new Matrix(t, arena.allocate(w.data().byteSize(), 64).copyFrom(w.data()), rows, cols);
        }
        x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        out = new float[n * rows];
        this.n = n;
        backend = new CpuBackend(threads);
    }

    /** One call; returns its wall time in milliseconds. */
    public double step() {
        Matrix w = copies[next];
        next = (next + 1) % copies.length;
        long t0 = System.nanoTime();
        backend.matmul(w, x, out, n);
        return (System.nanoTime() - t0) / 1e6;
    }

    /**
     * One call; returns the CPU time of this thread in milliseconds. With one backend thread that is the
     * whole call's CPU time, which time slices given to other processes do not inflate.
     */
    public double cpuStep() {
        Matrix w = copies[next];
        next = (next + 1) % copies.length;
        long t0 = THREADS.getCurrentThreadCpuTime();
        backend.matmul(w, x, out, n);
        return (THREADS.getCurrentThreadCpuTime() - t0) / 1e6;
    }

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /** The last output, to check two builds agree. */
    public float[] out() {
        return out;
    }

    @Override
    public void close() {
        backend.close();
        arena.close();
    }
}
