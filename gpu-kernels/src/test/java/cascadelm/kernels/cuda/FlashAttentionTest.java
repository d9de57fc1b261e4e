package cascadelm.kernels.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor-core flash attention and score-sum kernels against a float64 reference computed from the same
 * bf16-rounded inputs, on fresh random inputs, outputs poisoned with NaN first (NaN never passes). Tolerances:
 * output relative L2 error 1e-2 (probabilities are rounded to bf16 for the P·V product; bf16 output adds its own
 * rounding), 6e-3 for f32 output; log2-sum-exp absolute 2e-3; score sums relative L2 2e-3 (f32 throughout).
 * Each shape runs on the kernel the device picks (wgmma on compute capability 9.0 for head dim 128) and on the
 * portable mma.sync kernel; the score sums exact, or estimated from every k-th query with some keys skipped
 * (the reference then computes that same estimate). Skipped where no CUDA driver and GPU are present.
 */
@GpuTest
class FlashAttentionTest {
    static CudaDevice device;
    static FlashAttention attention, portable;

    @BeforeAll
    static void open(CudaDevice gpu) {
        device = gpu;
        attention = new FlashAttention(device, null);
        portable = new FlashAttention(device, null, false);
    }

    @AfterAll
    static void close() {
        if (attention != null) attention.close();
        if (portable != null) portable.close();
    }

    static float bf16Value(float f) {
        int x = Float.floatToRawIntBits(f);
        return Float.intBitsToFloat(((x + 0x7FFF + ((x >>> 16) & 1)) >>> 16) << 16);
    }

    static DeviceBuffer upload(float[] v, Arena arena) {
        MemorySegment s = arena.allocate(2L * v.length, 16);
        for (int i = 0; i < v.length; i++) s.set(ValueLayout.JAVA_SHORT, 2L * i, (short) (Float.floatToRawIntBits(v[i]) >>> 16));
        DeviceBuffer b = device.alloc(2L * v.length);
        device.upload(s, 2L * v.length, b.address());
        return b;
    }

    static double relL2(double[] got, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Double.isNaN(got[i])) return Double.NaN;
            num += (got[i] - ref[i]) * (got[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    @ParameterizedTest
    @CsvSource({"1,1,2,1,64,false,false,1,0,0", "17,300,4,2,64,false,false,1,0,0", "17,300,4,2,64,true,true,1,0,0",
                "130,700,6,2,128,false,false,1,0,0", "130,700,6,2,128,false,true,1,0,0",
                "200,200,8,8,128,true,false,1,0,0", "200,200,8,8,128,true,true,1,0,0",
                "64,4160,32,8,128,false,false,1,0,0", "600,4700,4,2,128,false,false,8,7,1300",
                "600,4700,4,2,128,true,true,3,300,301", "260,2000,4,4,128,false,false,1,256,1024"})
    void matchesFloat64Reference(int nQ, int nKeys, int H, int G, int D, boolean f32Out, boolean usePortable,
                                 int queryStep, int skipFrom, int skipTo) {
        FlashAttention fa = usePortable ? portable : attention;
        Random r = new Random(System.nanoTime());
        float[] q = new float[H * nQ * D], k = new float[G * nKeys * D], v = new float[G * nKeys * D];
        for (float[] a : new float[][]{q, k, v}) for (int i = 0; i < a.length; i++) a[i] = bf16Value((float) r.nextGaussian());
        double scale = 1 / Math.sqrt(D), beta = 0.9;
        int nC = nKeys - nQ, group = H / G;
        double[] refOut = new double[H * nQ * D], refLse = new double[H * nQ], refScore = new double[G * nKeys];
        java.util.Arrays.fill(refScore, Double.NEGATIVE_INFINITY);
        for (int h = 0; h < H; h++) {
            int g = h / group;
            double[] colsum = new double[nKeys];
            for (int i = 0; i < nQ; i++) {
                int last = nC + i;
                double[] s = new double[last + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double) q[(h * nQ + i) * D + d] * k[(g * nKeys + j) * D + d];
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j <= last; j++) sum += Math.exp(s[j] - max);
                refLse[h * nQ + i] = (max + Math.log(sum)) / Math.log(2);
                // The estimate of the sampled kernel: blocks of 256 keys that are all cached count every
                // queryStep-th query (the last one included) queryStep times.
                boolean sampled = (nQ - 1 - i) % queryStep == 0;
                for (int j = 0; j <= last; j++) {
                    double p = Math.exp(s[j] - max) / sum;
                    for (int d = 0; d < D; d++) refOut[(h * nQ + i) * D + d] += p * v[(g * nKeys + j) * D + d];
                    double w = j < nC ? Math.pow(beta, nQ - 1 - i) : Math.pow(beta, i - (j - nC));
                    boolean cachedBlock = (j / 256 + 1) * 256 <= nC;
                    double count = !cachedBlock ? 1 : sampled ? queryStep : 0;
                    colsum[j] += (1 - beta) * w * p * count;
                }
            }
            for (int j = 0; j < nKeys; j++) {
                double x = j >= skipFrom && j < skipTo ? 0 : colsum[j];
                refScore[g * nKeys + j] = Math.max(refScore[g * nKeys + j], x);
            }
        }
        try (Arena arena = Arena.ofConfined();
             DeviceBuffer dq = upload(q, arena); DeviceBuffer dk = upload(k, arena); DeviceBuffer dv = upload(v, arena);
             DeviceBuffer out = device.alloc((long) H * nQ * D * (f32Out ? 4 : 2));
             DeviceBuffer lse = device.allocFloats((long) H * nQ); DeviceBuffer sc = device.allocFloats((long) G * nKeys)) {
            device.fill32(out.address(), 0x7FC07FC0, out.bytes() / 4);   // NaN as f32 and as both bf16 halves
            device.fill32(lse.address(), 0x7FC00000, (long) H * nQ);
            device.fill32(sc.address(), 0x7FC00000, (long) G * nKeys);
            FlashAttention.Tensor tq = FlashAttention.Tensor.packed(dq.address(), nQ, D);
            FlashAttention.Tensor tk = FlashAttention.Tensor.packed(dk.address(), nKeys, D);
            fa.attention(tq, tk, FlashAttention.Tensor.packed(dv.address(), nKeys, D),
                    FlashAttention.Tensor.packed(out.address(), nQ, D), f32Out, lse.address(), nQ, nKeys, H, G, D, (float) scale);
            fa.scoreSums(tq, tk, lse.address(), sc.address(), nQ, nKeys, H, G, D, (float) scale, beta, false, queryStep,
                    skipFrom, skipTo);
            float[] raw = new float[(int) (out.bytes() / 4)];
            device.download(out.address(), raw, 0, raw.length);
            double[] got = new double[H * nQ * D];
            for (int i = 0; i < got.length; i++) {
                got[i] = f32Out ? raw[i] : Float.intBitsToFloat(((Float.floatToRawIntBits(raw[i / 2]) >>> (16 * (i % 2))) & 0xFFFF) << 16);
            }
            float[] gl = new float[H * nQ], gs = new float[G * nKeys];
            device.download(lse.address(), gl, 0, gl.length);
            device.download(sc.address(), gs, 0, gs.length);
            double eo = relL2(got, refOut);
            double el = 0;
            for (int i = 0; i < gl.length; i++) el = Math.max(el, Float.isNaN(gl[i]) ? Double.NaN : Math.abs(gl[i] - refLse[i]));
            double[] gsd = new double[gs.length];
            for (int i = 0; i < gs.length; i++) gsd[i] = gs[i];
            double es = relL2(gsd, refScore);
            String what = nQ + " queries over " + nKeys + " keys, " + H + "/" + G + " heads, dim " + D + (f32Out ? ", f32 out" : "")
                    + ", " + (D == 128 ? fa.kernel() : "mma.sync") + ", score query step " + queryStep + ", skipped ["
                    + skipFrom + ", " + skipTo + ")";
            assertTrue(eo <= (f32Out ? 6e-3 : 1e-2), what + ": output rel. error " + eo);
            assertTrue(el <= 2e-3, what + ": log2-sum-exp error " + el);
            assertTrue(es <= 2e-3, what + ": score-sum rel. error " + es);
            for (int gg = 0; gg < G; gg++) {
                for (int j = skipFrom; j < skipTo; j++) assertTrue(gs[gg * nKeys + j] == 0f, what + ": skipped key " + j + " not 0");
            }
        }
    }
}
