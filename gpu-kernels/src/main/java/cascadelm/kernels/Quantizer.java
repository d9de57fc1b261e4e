package cascadelm.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Encodes float values into the GGUF block layouts of {@link TensorType}, so tests and benchmarks can build
 * weight tensors without a model file. Q8_0 and Q4_0 follow ggml's reference quantizers exactly; Q4_K and
 * Q6_K use a plain min/max encoder (correct layout, not ggml's error-minimising scale search).
 */
public final class Quantizer {
    private Quantizer() {
    }

    /** The bytes of {@code values}, whose length must be a multiple of the type's block size. */
    public static byte[] quantize(TensorType type, float[] values) {
        int blocks = checkedBlocks(type, values.length);
        byte[] out = new byte[blocks * type.bytesPerBlock];
        for (int b = 0; b < blocks; b++) {
            int from = b * type.blockSize;
            int at = b * type.bytesPerBlock;
            switch (type) {
                case F32 -> putInt(out, at, Float.floatToRawIntBits(values[from]));
                case F16 -> putShort(out, at, Float.floatToFloat16(values[from]));
                case BF16 -> putShort(out, at, toBf16(values[from]));
                case Q8_0 -> q8_0(values, from, out, at);
                case Q4_0 -> q4_0(values, from, out, at);
                case Q4_K -> q4K(values, from, out, at);
                case Q6_K -> q6K(values, from, out, at);
            }
        }
        return out;
    }

    /** A {@code rows × cols} matrix over a heap segment holding the encoded values (row-major). */
    public static Matrix matrix(TensorType type, float[] values, int rows, int cols) {
        checkShape(values, rows, cols);
        return new Matrix(type, MemorySegment.ofArray(quantize(type, values)), rows, cols);
    }

    /** As {@link #matrix(TensorType, float[], int, int)}, in native memory of {@code arena} (like an mmap slice). */
    public static Matrix matrix(Arena arena, TensorType type, float[] values, int rows, int cols) {
        checkShape(values, rows, cols);
        byte[] bytes = quantize(type, values);
        MemorySegment seg = arena.allocate(bytes.length, 64);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, seg, 0, bytes.length);
        return new Matrix(type, seg, rows, cols);
    }

    /** Round-to-nearest-even bfloat16, keeping NaN a NaN. */
    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private static void checkShape(float[] values, int rows, int cols) {
        if ((long) rows * cols != values.length) {
            throw new IllegalArgumentException(values.length + " values do not make a " + rows + " x " + cols + " matrix");
        }
    }

    private static int checkedBlocks(TensorType type, int count) {
        if (count % type.blockSize != 0) {
            throw new IllegalArgumentException(type + " needs a multiple of " + type.blockSize + " values, got " + count);
        }
        return count / type.blockSize;
    }

    // ggml quantize_row_q8_0_ref: d = amax / 127, q = round(x / d), rounding half away from zero.
    private static void q8_0(float[] x, int from, byte[] out, int at) {
        float amax = 0;
        for (int i = 0; i < 32; i++) {
            amax = Math.max(amax, Math.abs(x[from + i]));
        }
        float d = amax / 127;
        float id = d != 0 ? 1 / d : 0;
        putShort(out, at, Float.floatToFloat16(d));
        for (int i = 0; i < 32; i++) {
            out[at + 2 + i] = (byte) roundHalfAway(x[from + i] * id);
        }
    }

    // ggml quantize_row_q4_0_ref: the signed value of largest magnitude maps to -8, so d can be negative.
    private static void q4_0(float[] x, int from, byte[] out, int at) {
        float amax = 0;
        float max = 0;
        for (int i = 0; i < 32; i++) {
            float v = x[from + i];
            if (Math.abs(v) > amax) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1 / d : 0;
        putShort(out, at, Float.floatToFloat16(d));
        for (int i = 0; i < 16; i++) {
            int lo = Math.min(15, (int) (x[from + i] * id + 8.5f));
            int hi = Math.min(15, (int) (x[from + 16 + i] * id + 8.5f));
            out[at + 2 + i] = (byte) (lo | (hi << 4));
        }
    }

    // Per 32-value sub-block: value = d·sc·q − dmin·m with q in [0, 15], sc and m 6-bit.
    private static void q4K(float[] x, int from, byte[] out, int at) {
        float[] scale = new float[8];
        float[] min = new float[8];
        float maxScale = 0;
        float maxMin = 0;
        for (int s = 0; s < 8; s++) {
            float lo = 0;
            float hi = 0;
            for (int i = 0; i < 32; i++) {
                float v = x[from + 32 * s + i];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            scale[s] = (hi - lo) / 15;
            min[s] = -lo;
            maxScale = Math.max(maxScale, scale[s]);
            maxMin = Math.max(maxMin, min[s]);
        }
        short dBits = Float.floatToFloat16(maxScale / 63);
        short dminBits = Float.floatToFloat16(maxMin / 63);
        float d = Float.float16ToFloat(dBits);
        float dmin = Float.float16ToFloat(dminBits);
        int[] sc = new int[8];
        int[] m = new int[8];
        for (int s = 0; s < 8; s++) {
            sc[s] = d > 0 ? Math.clamp(Math.round(scale[s] / d), 0, 63) : 0;
            m[s] = dmin > 0 ? Math.clamp(Math.round(min[s] / dmin), 0, 63) : 0;
        }
        putShort(out, at, dBits);
        putShort(out, at + 2, dminBits);
        // 6-bit packing read back by ggml's get_scale_min_k4.
        for (int j = 0; j < 4; j++) {
            out[at + 4 + j] = (byte) (sc[j] | ((sc[j + 4] >> 4) << 6));
            out[at + 8 + j] = (byte) (m[j] | ((m[j + 4] >> 4) << 6));
            out[at + 12 + j] = (byte) ((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
        }
        for (int s = 0; s < 8; s++) {
            float step = d * sc[s];
            float offset = dmin * m[s];
            float inv = step != 0 ? 1 / step : 0;
            for (int i = 0; i < 32; i++) {
                int q = Math.clamp(Math.round((x[from + 32 * s + i] + offset) * inv), 0, 15);
                int byteAt = at + 16 + 32 * (s / 2) + i;
                out[byteAt] |= (byte) (s % 2 == 0 ? q : q << 4);
            }
        }
    }

    // Per 16-value sub-block: value = d·sc·(q − 32) with q in [0, 63], sc a signed byte.
    private static void q6K(float[] x, int from, byte[] out, int at) {
        float[] scale = new float[16];
        float maxAbsScale = 0;
        for (int s = 0; s < 16; s++) {
            float amax = 0;
            float max = 0;
            for (int i = 0; i < 16; i++) {
                float v = x[from + 16 * s + i];
                if (Math.abs(v) > amax) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            scale[s] = max / -32;
            maxAbsScale = Math.max(maxAbsScale, Math.abs(scale[s]));
        }
        short dBits = Float.floatToFloat16(maxAbsScale / 127);
        float d = Float.float16ToFloat(dBits);
        int[] q = new int[256];
        for (int s = 0; s < 16; s++) {
            int sc = d > 0 ? Math.clamp(Math.round(scale[s] / d), -128, 127) : 0;
            out[at + 192 + s] = (byte) sc;
            float step = d * sc;
            float inv = step != 0 ? 1 / step : 0;
            for (int i = 0; i < 16; i++) {
                q[16 * s + i] = Math.clamp(Math.round(x[from + 16 * s + i] * inv), -32, 31) + 32;
            }
        }
        for (int half = 0; half < 2; half++) {
            int base = 128 * half;
            for (int l = 0; l < 32; l++) {
                int q1 = q[base + l];
                int q2 = q[base + l + 32];
                int q3 = q[base + l + 64];
                int q4 = q[base + l + 96];
                out[at + 64 * half + l] = (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4));
                out[at + 64 * half + l + 32] = (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4));
                out[at + 128 + 32 * half + l] = (byte) ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
        putShort(out, at + 208, dBits);
    }

    private static int roundHalfAway(float v) {
        return v >= 0 ? Math.round(v) : -Math.round(-v);
    }

    private static void putShort(byte[] out, int at, short v) {
        out[at] = (byte) v;
        out[at + 1] = (byte) (v >> 8);
    }

    private static void putInt(byte[] out, int at, int v) {
        putShort(out, at, (short) v);
        putShort(out, at + 2, (short) (v >>> 16));
    }
}
