package cascadelm.kernels.cpu;

/**
 * A float vector quantized to 8-bit integers in blocks of 32, as llama.cpp's Q8_0 activations: per block
 * {@code d = max|x| / 127} and {@code q = round(x / d)} (half away from zero), so {@code |x − d·q| ≤ d/2}.
 * Kept in the form {@link Q4_0Groups} multiplies with: for value pairs (j, 16 + j) of a block, {@code x_j}
 * and {@code x_(16+j) − 16·x_j} side by side, and per block {@code −8 · Σ_(j<16) x_j} (the Q4_0 offset
 * of the low nibbles). All fit 16 bits: |x| ≤ 127, |x_(16+j) − 16·x_j| ≤ 2159, |8 · Σ| ≤ 16256.
 *
 * <p>Error of a dot product with weights w: at most {@code Σ_b (d_b / 2) · Σ_(i in b) |w_i|}, the
 * rounding of each x (plus float rounding); relative to the block's largest |x| that is 1/254 per value.
 */
final class Int8Activations {
    static final int BLOCK = 32;

    /** Per block: the 16 pairs (x_j, x_(16+j) − 16·x_j), j < 16. */
    short[] pairs = new short[0];
    /** Per block: −8 · Σ_(j<16) x_j. */
    short[] lowOffsets = new short[0];
    /** Per block: d. */
    float[] scales = new float[0];

    /** Quantizes {@code x[offset, offset + cols)}; cols is a multiple of 32. */
    void quantize(float[] x, int offset, int cols) {
        if (cols % BLOCK != 0) {
            throw new IllegalArgumentException("int8 activations need a multiple of " + BLOCK + " values, got " + cols);
        }
        int blocks = cols / BLOCK;
        if (scales.length < blocks) {
            pairs = new short[blocks * BLOCK];
            lowOffsets = new short[blocks];
            scales = new float[blocks];
        }
        for (int b = 0; b < blocks; b++) {
            int at = offset + b * BLOCK;
            float max = 0;
            for (int i = 0; i < BLOCK; i++) {
                max = Math.max(max, Math.abs(x[at + i]));
            }
            float d = max / 127;
            float inverse = d == 0 ? 0 : 1 / d;
            int low = 0;
            for (int j = 0; j < 16; j++) {
                int lo = round(x[at + j] * inverse), hi = round(x[at + 16 + j] * inverse);
                pairs[b * BLOCK + 2 * j] = (short) lo;
                pairs[b * BLOCK + 2 * j + 1] = (short) (hi - 16 * lo);
                low += lo;
            }
            lowOffsets[b] = (short) (-8 * low);
            scales[b] = d;
        }
    }

    /** Nearest integer, ties away from zero (C's roundf); |v| ≤ 127 by construction. */
    static int round(float v) {
        int r = Math.round(Math.abs(v));
        return v < 0 ? -r : r;
    }
}
