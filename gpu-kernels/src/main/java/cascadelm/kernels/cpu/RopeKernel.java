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
        float[] freq = rope.inverseFrequencies();
        int pairs = freq.length;
        for (int i = 0; i < pairs; i++) {
            double angle = (double) position * freq[i];
            cos[i] = (float) Math.cos(angle);
            sin[i] = (float) Math.sin(angle);
        }
        // NeoX pairs i with i + d/2; the original Llama layout pairs 2i with 2i + 1.
        int stride = rope.neox() ? 1 : 2;
        int partner = rope.neox() ? pairs : 1;
        for (int h = 0; h < heads; h++) {
            int base = offset + h * headDim;
            for (int i = 0; i < pairs; i++) {
                int a = base + i * stride;
                float x0 = x[a];
                float x1 = x[a + partner];
                x[a] = x0 * cos[i] - x1 * sin[i];
                x[a + partner] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}
