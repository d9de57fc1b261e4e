package cascadelm.kernels.cpu;

import cascadelm.kernels.Rope;

/**
 * Rotary embedding of one token row. The angles are formed in double precision because position ·
 * frequency in float32 loses the low bits of the angle at long positions.
 */
final class RopeKernel {
    private RopeKernel() {
    }

    /**
     * Rotates the first {@code rope.rotaryDims()} values of each of {@code heads} heads of the row at
     * {@code x[offset...]}; {@code cos} and {@code sin} are scratch of rotaryDims / 2 floats.
     */
    static void rotateRow(float[] x, int offset, int heads, int headDim, int position, Rope rope, float[] cos, float[] sin) {
        angles(rope.inverseFrequencies(), position, cos, sin, 0);
        rotate(x, offset, heads, headDim, rope.neox(), rope.inverseFrequencies().length, cos, sin, 0);
    }

    /** cos and sin of position · freq[i], from {@code cos[at]} and {@code sin[at]} on. */
    static void angles(float[] freq, int position, float[] cos, float[] sin, int at) {
        for (int i = 0; i < freq.length; i++) {
            double angle = (double) position * freq[i];
            cos[at + i] = (float) Math.cos(angle);
            sin[at + i] = (float) Math.sin(angle);
        }
    }

    /** Rotates by the {@code pairs} angles whose cos and sin start at {@code cos[at]} and {@code sin[at]}. */
    static void rotate(float[] x, int offset, int heads, int headDim, boolean neox, int pairs, float[] cos, float[] sin, int at) {
        // NeoX pairs i with i + d/2; the original Llama layout pairs 2i with 2i + 1.
        int stride = neox ? 1 : 2;
        int partner = neox ? pairs : 1;
        for (int h = 0; h < heads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < pairs; i++) {
                int a = base + i * stride;
                float x0 = x[a];
                float x1 = x[a + partner];
                float c = cos[at + i], sn = sin[at + i];
                x[a] = x0 * c - x1 * sn;
                x[a + partner] = x0 * sn + x1 * c;
            }
        }
    }
}
