package cascadelm.bench;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Backend;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.Rope;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A backend that times every call of the one it wraps, by operation (and, for matmul, by weight type and
 * shape), so the benchmark can say which kernel falls short of the machine's peaks. Used only in a
 * separate profiling pass: the headline figures come from the unwrapped backend.
 */
final class OpTimer implements Backend {
    private final Backend inner;
    private final Map<String, Stat> stats = new LinkedHashMap<>();

    /** Accumulated time of one kind of call, with the weight bytes it read and the flops it did. */
    static final class Stat implements java.io.Serializable {
        final String op;
        long calls, nanos, bytes, flops;

        Stat(String op) {
            this.op = op;
        }
    }

    OpTimer(Backend inner) {
        this.inner = inner;
    }

    void reset() {
        stats.clear();
    }

    List<Stat> stats() {
        List<Stat> l = new ArrayList<>(stats.values());
        l.sort((a, b) -> Long.compare(b.nanos, a.nanos));
        return l;
    }

    /** A Markdown table of the calls, slowest first, with GB/s of weights and GFLOP/s where they apply. */
    static String table(List<Stat> stats, double readGBps, double fmaGflops) {
        long total = stats.stream().mapToLong(s -> s.nanos).sum();
        StringBuilder sb = new StringBuilder();
        sb.append("| op | calls | ms | % time | weight GB/s (% of peak) | GFLOP/s (% of peak) |\n");
        sb.append("|---|---:|---:|---:|---:|---:|\n");
        for (Stat s : stats) {
            double sec = s.nanos / 1e9;
            String bw = s.bytes == 0 ? "" : String.format(Locale.ROOT, "%.1f (%.0f%%)",
                    s.bytes / sec / 1e9, 100 * s.bytes / sec / 1e9 / readGBps);
            String fl = s.flops == 0 ? "" : String.format(Locale.ROOT, "%.1f (%.0f%%)",
                    s.flops / sec / 1e9, 100 * s.flops / sec / 1e9 / fmaGflops);
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %s | %s |%n",
                    s.op, s.calls, s.nanos / 1e6, 100.0 * s.nanos / total, bw, fl));
        }
        return sb.toString();
    }

    private void record(String op, long t0, long bytes, long flops) {
        long ns = System.nanoTime() - t0;
        Stat s = stats.computeIfAbsent(op, Stat::new);
        s.calls++;
        s.nanos += ns;
        s.bytes += bytes;
        s.flops += flops;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public void matmul(Matrix w, float[] x, float[] out, int n) {
        long t0 = System.nanoTime();
        inner.matmul(w, x, out, n);
        String op = "matmul " + w.type() + " " + w.rows() + "x" + w.cols() + (n == 1 ? " (n=1)" : " (n>1)");
        record(op, t0, w.rows() * w.rowBytes(), 2L * w.rows() * w.cols() * n);
    }

    /** Products of one input, timed as one op named after their shapes joined by "+" (e.g. Q, K, V). */
    @Override
    public void matmuls(Matrix[] ws, float[] x, float[][] outs, int n) {
        long t0 = System.nanoTime();
        inner.matmuls(ws, x, outs, n);
        StringBuilder rows = new StringBuilder();
        long bytes = 0, flops = 0;
        for (Matrix w : ws) {
            rows.append(rows.isEmpty() ? "" : "+").append(w.rows());
            bytes += w.rows() * w.rowBytes();
            flops += 2L * w.rows() * w.cols() * n;
        }
        record("matmul " + ws[0].type() + " " + rows + "x" + ws[0].cols() + (n == 1 ? " (n=1)" : " (n>1)"), t0, bytes, flops);
    }

    @Override
    public void rmsNorm(float[] x, float[] weight, float[] out, int n, int dim, float eps) {
        long t0 = System.nanoTime();
        inner.rmsNorm(x, weight, out, n, dim, eps);
        record("rmsNorm", t0, 0, 0);
    }

    @Override
    public void rope(float[] x, int n, int heads, int headDim, int[] positions, Rope rope) {
        long t0 = System.nanoTime();
        inner.rope(x, n, heads, headDim, positions, rope);
        record("rope", t0, 0, 0);
    }

    @Override
    public void softmax(float[] x, int offset, int length) {
        long t0 = System.nanoTime();
        inner.softmax(x, offset, length);
        record("softmax", t0, 0, 0);
    }

    @Override
    public void swiGlu(float[] gate, float[] up, int length) {
        long t0 = System.nanoTime();
        inner.swiGlu(gate, up, length);
        record("swiGlu", t0, 0, 0);
    }

    @Override
    public void add(float[] a, float[] b, int length) {
        long t0 = System.nanoTime();
        inner.add(a, b, length);
        record("add", t0, 0, 0);
    }

    @Override
    public void attention(float[] q, int nQ, int nHeads, int nKvHeads, int headDim, float[][] keys,
                          float[][] values, int nKeys, float scale, float[] out, AttentionScores scores) {
        long t0 = System.nanoTime();
        inner.attention(q, nQ, nHeads, nKvHeads, headDim, keys, values, nKeys, scale, out, scores);
        // Causal: query i sees nKeys − nQ + i + 1 keys; a score and a weighted value are 2·headDim flops each.
        long seen = (long) nQ * (nKeys - nQ) + (long) nQ * (nQ + 1) / 2;
        record(nQ == 1 ? "attention (n=1)" : "attention (n>1)", t0, 0, 4L * nHeads * headDim * seen);
    }

    @Override
    public void dequantizeRow(Matrix w, int row, float[] out, int outOffset) {
        long t0 = System.nanoTime();
        inner.dequantizeRow(w, row, out, outOffset);
        record("dequantizeRow", t0, w.rowBytes(), 0);
    }

    @Override
    public void close() {
        inner.close();
    }
}
