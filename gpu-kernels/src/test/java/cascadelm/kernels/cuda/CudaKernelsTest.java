package cascadelm.kernels.cuda;

import cascadelm.kernels.AttentionScores;
import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.ReferenceDecoder;
import cascadelm.kernels.Rope;
import cascadelm.kernels.TensorType;
import cascadelm.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each CUDA kernel against an independent reference (float64, or the CPU backend) on fresh random inputs, with
 * device outputs poisoned with NaN before every kernel so an unwritten element fails. Tolerances are relative to
 * the sum of absolute terms: 2e-5 for float32 math, 4e-3 where activations are rounded to float16 (GEMM path),
 * 1.6e-2 where they are rounded to bfloat16. Skipped where no CUDA driver and GPU are present.
 */
@GpuTest
class CudaKernelsTest {
    static CudaBackend gpu;
    static CpuBackend cpu;
    final Random random = new Random(System.nanoTime());

    @BeforeAll
    static void open(CudaBackend backend) {
        gpu = backend;
        gpu.poisonOutputs(true);
        cpu = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        if (cpu != null) cpu.close();
    }

    private float[] randoms(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }

    private static void assertClose(double[] expected, double[] bound, float[] actual, double tolerance, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertTrue(!Float.isNaN(actual[i]), what + ": element " + i + " is NaN");
            double err = Math.abs(actual[i] - expected[i]);
            assertTrue(err <= tolerance * bound[i] + 1e-30, what + ": element " + i + " is " + actual[i] + ", expected "
                    + expected[i] + " (|Δ| " + err + " > " + tolerance + " × " + bound[i] + ")");
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void matrixProductsMatchFloat64ForEveryTypeAndChunkSize(TensorType type) {
        int rows = 72, cols = 512;
        try (Arena arena = Arena.ofConfined()) {
            Matrix w = Quantizer.matrix(arena, type, randoms(rows * cols), rows, cols);
            byte[] bytes = w.data().asSlice(0, rows * w.rowBytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            double[] weights = ReferenceDecoder.decode(type, bytes, rows * cols);
            for (int n : new int[]{1, 3, 7, CudaKernels.MATVEC_MAX_ROWS, 40}) {
                float[] x = randoms(n * cols);
                double[] expected = new double[n * rows], bound = new double[n * rows];
                for (int t = 0; t < n; t++) {
                    for (int r = 0; r < rows; r++) {
                        double s = 0, b = 0;
                        for (int c = 0; c < cols; c++) {
                            double term = weights[r * cols + c] * x[t * cols + c];
                            s += term;
                            b += Math.abs(term);
                        }
                        expected[t * rows + r] = s;
                        bound[t * rows + r] = b;
                    }
                }
                float[] out = new float[n * rows];
                Arrays.fill(out, Float.NaN);
                gpu.matmul(w, x, out, n);
                double tolerance = n <= CudaKernels.MATVEC_MAX_ROWS || type == TensorType.F32 ? 2e-5
                        : type == TensorType.BF16 ? 1.6e-2 : 4e-3;
                assertClose(expected, bound, out, tolerance, type + " n=" + n);
            }
        }
    }

    /**
     * y rounded to int8 blocks of 32 as decode.cu's dmv_q8i kernels round their input (v = y in float32, d = amax/127,
     * q = rint(v·(127/amax)), all float32 like the kernel): the values d·q, and in {@code halfStep} each element's d/2,
     * the most the rounding moves it.
     */
    private static double[] roundedToInt8(float[] y, double[] halfStep) {
        double[] out = new double[y.length];
        for (int b = 0; b < y.length; b += 32) {
            float amax = 0f;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(y[i]));
            float d = amax / 127f, id = amax > 0f ? 127f / amax : 0f;
            for (int i = b; i < b + 32; i++) {
                out[i] = (double) d * Math.rint(y[i] * id);
                halfStep[i] = d / 2.0;
            }
        }
        return out;
    }

    /**
     * Q8_0 decode products on int8 activations (dp4a), plain, with the residual, with the norm fused, and gate|up with
     * SwiGLU: (a) against float64 on the input rounded exactly as the kernel rounds it (the norm's input x·g; its
     * RMS factor after), within float32 order (2e-5 of the sum of absolute terms); (b) against float64 on the
     * unrounded input, within the rounding's bound Σ_c |w_c|·d_c/2 (times the RMS factor) plus that 2e-5.
     */
    @Test
    void q8DecodeProductsOnInt8ActivationsStayWithinTheirRoundingBound() {
        int rows = 77, cols = 800;
        float eps = 1e-5f;
        CudaDevice d = gpu.device();
        try (Arena arena = Arena.ofConfined()) {
            Matrix w = Quantizer.matrix(arena, TensorType.Q8_0, randoms(rows * cols), rows, cols);
            byte[] bytes = w.data().asSlice(0, rows * w.rowBytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            double[] weights = ReferenceDecoder.decode(TensorType.Q8_0, bytes, rows * cols);
            float[] x = randoms(cols), g = randoms(cols), residual = randoms(rows);
            for (int c = 0; c < 32; c++) x[64 + c] = 0f;   // an all-zero block: scale 0
            double ss = 0;
            for (float v : x) ss += (double) v * v;
            double inv = 1 / Math.sqrt(ss / cols + eps);
            try (DeviceMatrix dw = DeviceMatrix.upload(d, w); DeviceBuffer dx = d.uploadNew(x); DeviceBuffer dg = d.uploadNew(g);
                 DeviceBuffer out = d.allocFloats(rows)) {
                assertTrue(CudaKernels.int8Activations(dw));
                for (int mode = 0; mode < 3; mode++) {   // 0 plain, 1 accumulate, 2 norm fused
                    float[] y = new float[cols];
                    for (int c = 0; c < cols; c++) y[c] = mode == 2 ? x[c] * g[c] : x[c];   // float32, as the kernel
                    double[] half = new double[cols];
                    double[] yq = roundedToInt8(y, half);
                    double f = mode == 2 ? inv : 1;
                    double[] onRounded = new double[rows], exact = new double[rows], bound = new double[rows],
                            roundingBound = new double[rows];
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            double wv = weights[r * cols + c];
                            onRounded[r] += wv * yq[c] * f;
                            exact[r] += wv * y[c] * f;
                            bound[r] += Math.abs(wv * yq[c] * f);
                            roundingBound[r] += Math.abs(wv) * half[c] * f;
                        }
                        if (mode == 1) {
                            onRounded[r] += residual[r];
                            exact[r] += residual[r];
                            bound[r] += Math.abs(residual[r]);
                        }
                    }
                    if (mode == 1) d.upload(residual, 0, rows, out.address());
                    else d.fill32(out.address(), 0x7FC00000, rows);
                    gpu.kernels().decodeMatvec(dw, dx.address(), mode == 2 ? dg.address() : 0, eps, out.address(), mode == 1);
                    float[] actual = new float[rows];
                    d.download(out.address(), actual, 0, rows);
                    assertClose(onRounded, bound, actual, 2e-5, "Q8_0 int8 decode product on the rounded input, mode " + mode);
                    for (int r = 0; r < rows; r++) {
                        double err = Math.abs(actual[r] - exact[r]), allowed = roundingBound[r] + 2e-5 * bound[r];
                        assertTrue(err <= allowed, "Q8_0 int8 decode product, mode " + mode + ", row " + r + ": |Δ| " + err
                                + " against float activations exceeds the rounding bound " + allowed);
                    }
                }
            }
            int ffn = rows / 2;
            Matrix gu = Quantizer.matrix(arena, TensorType.Q8_0, randoms(2 * ffn * cols), 2 * ffn, cols);
            double[] gw = ReferenceDecoder.decode(TensorType.Q8_0, gu.data().asSlice(0, 2 * ffn * gu.rowBytes())
                    .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), 2 * ffn * cols);
            try (DeviceMatrix dw = DeviceMatrix.upload(d, gu); DeviceBuffer dx = d.uploadNew(x); DeviceBuffer dg = d.uploadNew(g);
                 DeviceBuffer out = d.allocFloats(ffn)) {
                d.fill32(out.address(), 0x7FC00000, ffn);
                gpu.kernels().decodeMatvecSwiGlu(dw, dx.address(), dg.address(), eps, out.address());
                float[] actual = new float[ffn];
                d.download(out.address(), actual, 0, ffn);
                float[] y = new float[cols];
                for (int c = 0; c < cols; c++) y[c] = x[c] * g[c];
                double[] yq = roundedToInt8(y, new double[cols]);
                double[] expected = new double[ffn], bound = new double[ffn];
                for (int r = 0; r < ffn; r++) {
                    double a = 0, b = 0, ba = 0, bb = 0;
                    for (int c = 0; c < cols; c++) {
                        a += gw[r * cols + c] * yq[c] * inv;
                        b += gw[(ffn + r) * cols + c] * yq[c] * inv;
                        ba += Math.abs(gw[r * cols + c] * yq[c] * inv);
                        bb += Math.abs(gw[(ffn + r) * cols + c] * yq[c] * inv);
                    }
                    double silu = a / (1 + Math.exp(-a));
                    expected[r] = silu * b;
                    bound[r] = 1.1 * ba * Math.abs(b) + Math.abs(silu) * bb;
                }
                assertClose(expected, bound, actual, 2e-5, "Q8_0 int8 decode gate|up with SwiGLU on the rounded input");
            }
        }
    }

    /**
     * The greedy token on the device: the lowest index of the largest value (NaN never wins, −0 equals +0), into the
     * output int and the step block's token slot, for lengths from 1 to a vocabulary and several launches in a row
     * (the kernel must leave its scratch cleared).
     */
    @Test
    void argmaxTokenTakesTheLowestIndexOfTheLargestValue() {
        CudaDevice d = gpu.device();
        try (DeviceBuffer scratch = d.alloc(16); DeviceBuffer out = d.alloc(4); DeviceBuffer step = d.alloc(16)) {
            d.fill32(scratch.address(), 0, 4);
            int[] lengths = {1, 2, 37, 1000, 5003, 128256, 128256, 128256};
            for (int t = 0; t < lengths.length; t++) {
                int n = lengths[t];
                float[] x = randoms(n);
                if (t == 5) {   // a tie of the largest value: the first one wins
                    int a = random.nextInt(n / 2), b = a + 1 + random.nextInt(n / 2);
                    x[a] = x[b] = 10f;
                }
                if (t == 6) {   // NaNs (one at index 0) are passed over
                    for (int i = 0; i < n; i += 97) x[i] = Float.NaN;
                }
                if (t == 7) {   // all zeros of both signs: index 0
                    for (int i = 0; i < n; i++) x[i] = i % 2 == 0 ? -0f : 0f;
                    x[0] = -0f;
                }
                int expected = -1;
                for (int i = 0; i < n; i++) {
                    if (Float.isNaN(x[i])) continue;
                    if (expected < 0 || x[i] > x[expected]) expected = i;
                }
                try (DeviceBuffer dx = d.uploadNew(x)) {
                    d.fill32(out.address(), 0x7FC00000, 1);
                    d.fill32(step.address(), -7, 4);
                    gpu.kernels().argmaxToken(dx.address(), n, scratch.address(), out.address(), step.address());
                    int[] token = new int[1], steps = new int[4];
                    d.download(out.address(), token, 0, 1);
                    d.download(step.address(), steps, 0, 4);
                    assertEquals(expected, token[0], "argmax of " + n + " values, case " + t);
                    assertEquals(expected, steps[3], "token slot of the step block, case " + t);
                    assertEquals(-7, steps[0], "the rest of the step block is untouched");
                }
            }
            int[] left = new int[4];
            d.download(scratch.address(), left, 0, 4);
            assertArrayEquals(new int[4], left, "scratch cleared for the next launch");
        }
    }

    /**
     * The decode products (one token): plain, with the residual added, with the RMSNorm fused in, and gate|up with
     * SwiGLU fused in, against float64 on the same decoded weights; odd row counts cover a warp's lone last row.
     * Q8_0 here runs the float32-activation kernels (its int8 ones: the test above).
     */
    @ParameterizedTest
    @EnumSource(TensorType.class)
    void decodeProductsMatchFloat64(TensorType type) {
        // 800 columns: Q8_0's last group of four blocks on the device holds one (a padded tail); K-quants need 256s.
        int rows = 77, cols = type == TensorType.Q4_K || type == TensorType.Q6_K ? 768 : 800;
        float eps = 1e-5f;
        CudaDevice d = gpu.device();
        try (Arena arena = Arena.ofConfined()) {
            Matrix w = Quantizer.matrix(arena, type, randoms(rows * cols), rows, cols);
            byte[] bytes = w.data().asSlice(0, rows * w.rowBytes()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            double[] weights = ReferenceDecoder.decode(type, bytes, rows * cols);
            float[] x = randoms(cols), g = randoms(cols), residual = randoms(rows);
            double ss = 0;
            for (float v : x) ss += (double) v * v;
            double inv = 1 / Math.sqrt(ss / cols + eps);
            try (DeviceMatrix dw = DeviceMatrix.upload(d, w); DeviceBuffer dx = d.uploadNew(x); DeviceBuffer dg = d.uploadNew(g);
                 DeviceBuffer out = d.allocFloats(rows)) {
                for (int mode = 0; mode < 3; mode++) {   // 0 plain, 1 accumulate, 2 norm fused
                    double[] expected = new double[rows], bound = new double[rows];
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            double xv = mode == 2 ? x[c] * inv * g[c] : x[c];
                            expected[r] += weights[r * cols + c] * xv;
                            bound[r] += Math.abs(weights[r * cols + c] * xv);
                        }
                        if (mode == 1) {
                            expected[r] += residual[r];
                            bound[r] += Math.abs(residual[r]);
                        }
                    }
                    if (mode == 1) d.upload(residual, 0, rows, out.address());
                    else d.fill32(out.address(), 0x7FC00000, rows);
                    gpu.kernels().decodeMatvec(dw, dx.address(), mode == 2 ? dg.address() : 0, eps, out.address(), mode == 1,
                            false);
                    float[] actual = new float[rows];
                    d.download(out.address(), actual, 0, rows);
                    assertClose(expected, bound, actual, 2e-5, type + " decode product, mode " + mode);
                }
            }
            // gate|up: the first half of the rows are gates, the second ups.
            int ffn = rows / 2;
            if (ffn > 0) {
                Matrix gu = Quantizer.matrix(arena, type, randoms(2 * ffn * cols), 2 * ffn, cols);
                double[] gw = ReferenceDecoder.decode(type, gu.data().asSlice(0, 2 * ffn * gu.rowBytes())
                        .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), 2 * ffn * cols);
                try (DeviceMatrix dw = DeviceMatrix.upload(d, gu); DeviceBuffer dx = d.uploadNew(x); DeviceBuffer dg = d.uploadNew(g);
                     DeviceBuffer out = d.allocFloats(ffn)) {
                    d.fill32(out.address(), 0x7FC00000, ffn);
                    gpu.kernels().decodeMatvecSwiGlu(dw, dx.address(), dg.address(), eps, out.address(), false);
                    float[] actual = new float[ffn];
                    d.download(out.address(), actual, 0, ffn);
                    double[] expected = new double[ffn], bound = new double[ffn];
                    for (int r = 0; r < ffn; r++) {
                        double a = 0, b = 0, ba = 0, bb = 0;
                        for (int c = 0; c < cols; c++) {
                            double xv = x[c] * inv * g[c];
                            a += gw[r * cols + c] * xv;
                            b += gw[(ffn + r) * cols + c] * xv;
                            ba += Math.abs(gw[r * cols + c] * xv);
                            bb += Math.abs(gw[(ffn + r) * cols + c] * xv);
                        }
                        double silu = a / (1 + Math.exp(-a));
                        expected[r] = silu * b;
                        // silu'(a) ≤ 1.1: an error of e·ba in a moves the result by ≤ 1.1·e·ba·|b|; likewise for b.
                        bound[r] = 1.1 * ba * Math.abs(b) + Math.abs(silu) * bb;
                    }
                    assertClose(expected, bound, actual, 2e-5, type + " decode gate|up with SwiGLU");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(TensorType.class)
    void embeddingRowsDecodeExactly(TensorType type) {
        int rows = 9, cols = 256;
        try (Arena arena = Arena.ofConfined()) {
            Matrix w = Quantizer.matrix(arena, type, randoms(rows * cols), rows, cols);
            for (int row : new int[]{0, 4, rows - 1}) {
                float[] expected = new float[cols + 3], actual = new float[cols + 3];
                Arrays.fill(actual, Float.NaN);
                cpu.dequantizeRow(w, row, expected, 3);
                gpu.dequantizeRow(w, row, actual, 3);
                for (int c = 0; c < cols; c++) {
                    assertEquals(expected[3 + c], actual[3 + c], 1e-6 * Math.abs(expected[3 + c]), type + " row " + row + " col " + c);
                }
            }
        }
    }

    @Test
    void rmsNormMatchesFloat64() {
        int n = 5, dim = 1000;
        float[] x = randoms(n * dim), w = randoms(dim), out = new float[n * dim];
        Arrays.fill(out, Float.NaN);
        gpu.rmsNorm(x, w, out, n, dim, 1e-5f);
        double[] expected = new double[n * dim], bound = new double[n * dim];
        for (int t = 0; t < n; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) x[t * dim + i] * x[t * dim + i];
            double inv = 1 / Math.sqrt(ss / dim + 1e-5);
            for (int i = 0; i < dim; i++) {
                expected[t * dim + i] = x[t * dim + i] * inv * w[i];
                bound[t * dim + i] = Math.abs(expected[t * dim + i]) + 1e-6;
            }
        }
        assertClose(expected, bound, out, 1e-5, "rmsnorm");
    }

    @Test
    void ropeMatchesTheCpuBackendInBothLayoutsWithLlama3Scaling() {
        for (boolean neox : new boolean[]{false, true}) {
            for (Rope rope : new Rope[]{Rope.standard(64, 10000, neox), Rope.llama3(64, 500000, neox, 8, 1, 4, 8192),
                    Rope.standard(32, 10000, neox)}) {
                int n = 6, heads = 3, hd = 64;
                float[] x = randoms(n * heads * hd);
                int[] positions = {0, 1, 17, 4095, 70000, 1_000_000};
                float[] a = x.clone(), b = x.clone();
                cpu.rope(a, n, heads, hd, positions, rope);
                gpu.rope(b, n, heads, hd, positions, rope);
                double[] expected = new double[a.length], bound = new double[a.length];
                for (int i = 0; i < a.length; i++) {
                    expected[i] = a[i];
                    bound[i] = 1;   // |rotated| ≤ |pair|: absolute 2e-6 against unit-scale inputs
                }
                assertClose(expected, bound, b, 2e-6, "rope neox=" + neox + " dims=" + rope.rotaryDims());
            }
        }
    }

    @Test
    void softmaxSwiGluAndAddMatchFloat64() {
        int len = 3001;
        float[] x = randoms(len + 10), y = x.clone();
        gpu.softmax(y, 5, len);
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 5; i < 5 + len; i++) max = Math.max(max, x[i]);
        for (int i = 5; i < 5 + len; i++) sum += Math.exp(x[i] - max);
        for (int i = 0; i < x.length; i++) {
            double e = i < 5 || i >= 5 + len ? x[i] : Math.exp(x[i] - max) / sum;
            assertEquals(e, y[i], 1e-6 * Math.abs(e) + 1e-9, "softmax " + i);
        }
        float[] g = randoms(len), u = randoms(len), gg = g.clone();
        gpu.swiGlu(gg, u, len);
        for (int i = 0; i < len; i++) {
            double e = g[i] / (1 + Math.exp(-g[i])) * u[i];
            assertEquals(e, gg[i], 1e-6 * Math.abs(e) + 1e-7, "swiglu " + i);
        }
        float[] a = randoms(len), b = randoms(len), aa = a.clone();
        gpu.add(aa, b, len);
        for (int i = 0; i < len; i++) assertEquals(a[i] + b[i], aa[i], 0f, "add " + i);
    }

    @Test
    void attentionWithScoresMatchesTheCpuBackend() {
        // Fewer than GEMM_ATTENTION_MIN_QUERIES queries run the per-query kernel, more the cuBLAS path: both here.
        for (int[] shape : new int[][]{{1, 40, 8, 2, 64}, {9, 9, 4, 4, 32}, {13, 300, 8, 2, 128}, {5, 70, 6, 3, 16},
                {40, 100, 8, 2, 64}, {64, 64, 4, 4, 32}, {33, 500, 6, 3, 128}}) {
            int nQ = shape[0], nKeys = shape[1], heads = shape[2], kvHeads = shape[3], hd = shape[4];
            float[] q = randoms(nQ * heads * hd);
            float[][] k = new float[kvHeads][], v = new float[kvHeads][];
            for (int g = 0; g < kvHeads; g++) {
                k[g] = randoms(nKeys * hd);
                v[g] = randoms(nKeys * hd);
            }
            float[] byQuery = new float[nQ], byDistance = new float[nQ];
            for (int i = 0; i < nQ; i++) {
                byQuery[i] = (float) (0.1 * Math.pow(0.9, nQ - 1 - i));
                byDistance[i] = (float) (0.1 * Math.pow(0.9, i));
            }
            AttentionScores cs = new AttentionScores(byQuery, byDistance, new float[heads * nKeys]);
            AttentionScores gs = new AttentionScores(byQuery, byDistance, new float[heads * nKeys]);
            float[] co = new float[nQ * heads * hd], go = new float[nQ * heads * hd];
            Arrays.fill(go, Float.NaN);
            float scale = (float) (1 / Math.sqrt(hd));
            cpu.attention(q, nQ, heads, kvHeads, hd, k, v, nKeys, scale, co, cs);
            gpu.attention(q, nQ, heads, kvHeads, hd, k, v, nKeys, scale, go, gs);
            double[] e = new double[co.length], bound = new double[co.length];
            for (int i = 0; i < co.length; i++) {
                e[i] = co[i];
                bound[i] = 1;   // outputs are convex combinations of unit-scale values
            }
            String what = "attention " + Arrays.toString(shape);
            assertClose(e, bound, go, 2e-5, what);
            double[] es = new double[cs.out().length], sb = new double[es.length];
            for (int i = 0; i < es.length; i++) {
                es[i] = cs.out()[i];
                sb[i] = 1e-2;   // sums of at most nQ probabilities times weights ≤ 0.1
            }
            assertClose(es, sb, gs.out(), 2e-4, what + " scores");
        }
    }

    @Test
    void deviceCopiesAndFillsRoundTrip() {
        CudaDevice d = gpu.device();
        float[] a = randoms(1000), back = new float[1000];
        try (DeviceBuffer b1 = d.uploadNew(a); DeviceBuffer b2 = d.allocFloats(1000)) {
            d.fill32(b2.address(), 0x7FC00000, 1000);
            d.download(b2.address(), back, 0, 1000);
            for (float f : back) assertTrue(Float.isNaN(f));
            d.copy(b2.address(), b1.address(), 4000);
            d.download(b2.address(), back, 0, 1000);
            assertTrue(Arrays.equals(a, back));
        }
        assertTrue(gpu.name().startsWith("cuda:0 ("), gpu.name());
        long[] info = d.memoryInfo();
        assertTrue(info[0] > 0 && info[0] <= info[1]);
    }

    @Test
    void driverErrorsNameTheCall() {
        CudaException e = org.junit.jupiter.api.Assertions.assertThrows(CudaException.class,
                () -> gpu.device().alloc(1L << 50));
        assertTrue(e.getMessage().startsWith("cuMemAlloc_v2"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
    }
}
