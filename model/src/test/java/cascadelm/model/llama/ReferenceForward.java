package cascadelm.model.llama;

/**
 * The transformer computed the slow, obvious way in float64, with full causal attention over the whole
 * sequence: the independent reference the engine's float32 forward pass is checked against.
 */
final class ReferenceForward {
    private ReferenceForward() {
    }

    /** Logits of every position, {@code [tokens.length][vocab]}. */
    static double[][] logits(TinyModel m, int[] tokens) {
        int n = tokens.length;
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = row(m.tensors.get("token_embd.weight"), tokens[t], m.dim);
        for (int l = 0; l < m.layers; l++) {
            String p = "blk." + l + ".";
            double[][] h = new double[n][];
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                h[t] = rmsNorm(x[t], m.tensors.get(p + "attn_norm.weight"), m.eps);
                q[t] = rope(add(matVec(m.tensors.get(p + "attn_q.weight"), h[t], m.heads * m.headDim), m.tensors.get(p + "attn_q.bias")), t, m);
                k[t] = rope(add(matVec(m.tensors.get(p + "attn_k.weight"), h[t], m.kvHeads * m.headDim), m.tensors.get(p + "attn_k.bias")), t, m);
                v[t] = add(matVec(m.tensors.get(p + "attn_v.weight"), h[t], m.kvHeads * m.headDim), m.tensors.get(p + "attn_v.bias"));
            }
            for (int t = 0; t < n; t++) {
                double[] att = new double[m.heads * m.headDim];
                for (int hh = 0; hh < m.heads; hh++) {
                    int g = hh / (m.heads / m.kvHeads);
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int d = 0; d < m.headDim; d++) dot += q[t][hh * m.headDim + d] * k[j][g * m.headDim + d];
                        s[j] = dot / Math.sqrt(m.headDim);
                        max = Math.max(max, s[j]);
                    }
                    double z = 0;
                    for (int j = 0; j <= t; j++) z += s[j] = Math.exp(s[j] - max);
                    for (int j = 0; j <= t; j++) {
                        for (int d = 0; d < m.headDim; d++) att[hh * m.headDim + d] += s[j] / z * v[j][g * m.headDim + d];
                    }
                }
                double[] o = matVec(m.tensors.get(p + "attn_output.weight"), att, m.dim);
                for (int d = 0; d < m.dim; d++) x[t][d] += o[d];
                double[] f = rmsNorm(x[t], m.tensors.get(p + "ffn_norm.weight"), m.eps);
                double[] gate = matVec(m.tensors.get(p + "ffn_gate.weight"), f, m.ffn);
                double[] up = matVec(m.tensors.get(p + "ffn_up.weight"), f, m.ffn);
                for (int i = 0; i < m.ffn; i++) gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                double[] down = matVec(m.tensors.get(p + "ffn_down.weight"), gate, m.dim);
                for (int d = 0; d < m.dim; d++) x[t][d] += down[d];
            }
        }
        float[] out = m.tensors.get(m.tied ? "token_embd.weight" : "output.weight");
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) {
            logits[t] = matVec(out, rmsNorm(x[t], m.tensors.get("output_norm.weight"), m.eps), m.vocab);
        }
        return logits;
    }

    private static double[] row(float[] w, int r, int cols) {
        double[] a = new double[cols];
        for (int c = 0; c < cols; c++) a[c] = w[r * cols + c];
        return a;
    }

    private static double[] matVec(float[] w, double[] x, int rows) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < x.length; c++) s += w[r * x.length + c] * x[c];
            y[r] = s;
        }
        return y;
    }

    private static double[] add(double[] a, float[] bias) {
        if (bias != null) for (int i = 0; i < a.length; i++) a[i] += bias[i];
        return a;
    }

    private static double[] rmsNorm(double[] x, float[] w, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * inv * w[i];
        return y;
    }

    /** Llama GGUF rotates interleaved pairs (2i, 2i+1); Qwen2 rotates halves (i, i + d/2). */
    private static double[] rope(double[] x, int pos, TinyModel m) {
        boolean neox = m.arch.equals("qwen2");
        int hd = m.headDim;
        for (int h = 0; h < x.length / hd; h++) {
            for (int i = 0; i < hd / 2; i++) {
                double angle = pos * Math.pow(m.theta, -2.0 * i / hd);
                int a = h * hd + (neox ? i : 2 * i);
                int b = h * hd + (neox ? i + hd / 2 : 2 * i + 1);
                double x0 = x[a], x1 = x[b];
                x[a] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                x[b] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
            }
        }
        return x;
    }
}
