package cascadelm.kernels;

/**
 * A plain decoder of GGUF block layouts written from the ggml block definitions, independent of the
 * kernels' decoders, so tests can compute float64 references from the exact stored values.
 */
public final class ReferenceDecoder {
    private ReferenceDecoder() {
    }

    public static double[] decode(TensorType type, byte[] data, int count) {
        double[] y = new double[count];
        for (int b = 0; b < count / type.blockSize; b++) {
            int at = b * type.bytesPerBlock;
            int o = b * type.blockSize;
            switch (type) {
                case F32 -> y[o] = Float.intBitsToFloat(u16(data, at) | (u16(data, at + 2) << 16));
                case F16 -> y[o] = half(data, at);
                case BF16 -> y[o] = Float.intBitsToFloat(u16(data, at) << 16);
                case Q8_0 -> {
                    for (int i = 0; i < 32; i++) y[o + i] = half(data, at) * data[at + 2 + i];
                }
                case Q4_0 -> {
                    for (int i = 0; i < 16; i++) {
                        int q = data[at + 2 + i] & 0xFF;
                        y[o + i] = half(data, at) * ((q & 0xF) - 8);
                        y[o + 16 + i] = half(data, at) * ((q >> 4) - 8);
                    }
                }
                case Q4_K -> q4K(data, at, y, o);
                case Q6_K -> q6K(data, at, y, o);
            }
        }
        return y;
    }

    private static void q4K(byte[] x, int at, double[] y, int o) {
        double d = half(x, at);
        double dmin = half(x, at + 2);
        int[] q = new int[12];
        for (int i = 0; i < 12; i++) q[i] = x[at + 4 + i] & 0xFF;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            if (j < 4) {
                sc = q[j] & 63;
                m = q[j + 4] & 63;
            } else {
                sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
                m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
            }
            for (int l = 0; l < 32; l++) {
                int b = x[at + 16 + 32 * (j / 2) + l] & 0xFF;
                int nibble = j % 2 == 0 ? b & 0xF : b >> 4;
                y[o + 32 * j + l] = d * sc * nibble - dmin * m;
            }
        }
    }

    private static void q6K(byte[] x, int at, double[] y, int o) {
        double d = half(x, at + 208);
        for (int n = 0; n < 2; n++) {
            int ql = at + 64 * n;
            int qh = at + 128 + 32 * n;
            int sc = at + 192 + 8 * n;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int a = x[ql + l] & 0xFF;
                int c = x[ql + l + 32] & 0xFF;
                int h = x[qh + l] & 0xFF;
                int q1 = ((a & 0xF) | ((h & 3) << 4)) - 32;
                int q2 = ((c & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                int q3 = ((a >> 4) | (((h >> 4) & 3) << 4)) - 32;
                int q4 = ((c >> 4) | (((h >> 6) & 3) << 4)) - 32;
                y[o + 128 * n + l] = d * x[sc + is] * q1;
                y[o + 128 * n + l + 32] = d * x[sc + is + 2] * q2;
                y[o + 128 * n + l + 64] = d * x[sc + is + 4] * q3;
                y[o + 128 * n + l + 96] = d * x[sc + is + 6] * q4;
            }
        }
    }

    /** IEEE half to double, by the definition (sign, 5-bit exponent biased by 15, 10-bit fraction). */
    public static double half(byte[] x, int at) {
        int h = u16(x, at);
        int sign = (h >> 15) == 1 ? -1 : 1;
        int e = (h >> 10) & 31;
        int f = h & 1023;
        if (e == 0) return sign * f * Math.pow(2, -24);
        if (e == 31) return f == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        return sign * (1 + f / 1024.0) * Math.pow(2, e - 15);
    }

    private static int u16(byte[] x, int at) {
        return (x[at] & 0xFF) | ((x[at + 1] & 0xFF) << 8);
    }
}
