package cascadelm.kernels.cpu;

import static cascadelm.kernels.cpu.Lanes.F;
import static cascadelm.kernels.cpu.Lanes.L;
import static cascadelm.kernels.cpu.Lanes.LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Q4_0 laid out for decoding with 8-bit activations ({@link Int8Activations}): rows in groups of
 * {@link #G} (two float vectors' worth: 32 with AVX-512, 16 with AVX2), each vector lane a row. A group
 * of n blocks is its n·G f16 scales (block-major: block b's G scales side by side), then per block the 16
 * byte columns j of G bytes: the GGUF byte j of that block of each row, XOR 0x80. The same 18 bytes per
 * block as GGUF.
 *
 * <p>Why: the float kernel spent ~12 vector instructions per 32-value block turning nibbles into floats and
 * was compute-bound at 7-10 GB/s. Here the products are 16-bit integers, one vector instruction for G
 * weights. A packed byte read as signed is {@code v = 16·h + l}, with h the high nibble's value q − 8 and
 * l the low nibble's stored 0..15 (value l − 8). With x_j and x'_j = x_(16+j) − 16·x_j from the
 * activations, {@code v·x_j + h·x'_j = l·x_j + h·x_(16+j)}: one byte sign extension, one shift, two
 * multiplies and two adds per column pair of G rows (2G weights), and {@code −8·Σ x_j} starts the sum. 16-bit arithmetic
 * wraps, but the sum it ends with, Σ q·x over one block with |q| ≤ 8 and |x| ≤ 127, lies within ±32512,
 * so it is exact; it is then converted to float and scaled by d_w (one per row: a lane) and d_x.
 */
final class Q4_0Groups {
    /** Rows per group: one lane each in a vector of 16-bit integers as wide as a float vector. */
    static final int G = 2 * L;
    private static final VectorSpecies<Short> SHORTS = VectorSpecies.of(short.class, F.vectorShape());
    /** G bytes: a shape only where the quantized vector paths run (8 or 16 float lanes), as in {@link Lanes}. */
    private static final VectorSpecies<Byte> BYTES = Lanes.QUANT_VECTORS ? VectorSpecies.of(byte.class, VectorShape.forBitSize(G * 8)) : null;
    /** Bytes of one block of one row. */
    static final int BLOCK_BYTES = 18;

    private Q4_0Groups() {
    }

    /**
     * Packs one group: columns {@code [col0, col0 + blocks·32)} of rows {@code [row0, row0 + G)} of the GGUF
     * matrix at {@code from} (rows of {@code rowBytes}); rows from {@code rows} on are padding (zeros). The
     * bytes are gathered in arrays, where the strided writes are cheap, and copied out in bulk.
     */
    static void pack(MemorySegment from, long rowBytes, int rows, int row0, int col0, int blocks, MemorySegment to, long at) {
        int n = BLOCK_BYTES * blocks;
        byte[] row = new byte[n];
        byte[] group = new byte[n * G];
        int quants = 2 * blocks * G;
        for (int lane = 0; lane < G; lane++) {
            if (row0 + lane < rows) {
                MemorySegment.copy(from, ValueLayout.JAVA_BYTE, (row0 + lane) * rowBytes + (long) (col0 / 32) * BLOCK_BYTES, row, 0, n);
            } else {
                java.util.Arrays.fill(row, (byte) 0);
            }
            for (int b = 0; b < blocks; b++) {
                group[2 * (b * G + lane)] = row[BLOCK_BYTES * b];
                group[2 * (b * G + lane) + 1] = row[BLOCK_BYTES * b + 1];
                for (int j = 0, q = quants + 16 * G * b + lane; j < 16; j++, q += G) {
                    group[q] = (byte) (row[BLOCK_BYTES * b + 2 + j] ^ 0x80);
                }
            }
        }
        MemorySegment.copy(group, 0, to, ValueLayout.JAVA_BYTE, at, group.length);
    }

    /**
     * Adds to {@code out[o, o + G)} the products of the group at {@code at} ({@code blocks} blocks) with
     * activation blocks {@code [block0, block0 + blocks)} of x. {@code scratch} holds at least blocks·G floats.
     */
    static void dot(MemorySegment w, long at, int blocks, Int8Activations x, int block0, float[] scratch, float[] out, int o) {
        int n = blocks * G;
        scales(w, at, scratch, n);
        long quants = at + 2L * n;
        short[] pairs = x.pairs;
        FloatVector a0 = FloatVector.fromArray(F, out, o), a1 = FloatVector.fromArray(F, out, o + L);
        for (int b = 0; b < blocks; b++) {
            int xb = (block0 + b) * Int8Activations.BLOCK;
            long qb = quants + 16L * G * b;
            // Two chains, so the sixteen adds of a block do not wait on each other in one line.
            ShortVector lo = ShortVector.broadcast(SHORTS, x.lowOffsets[block0 + b]), hi = ShortVector.zero(SHORTS);
            for (int j = 0; j < 16; j++) {
                ShortVector v = (ShortVector) ByteVector.fromMemorySegment(BYTES, w, qb + (long) G * j, LE)
                        .convertShape(VectorOperators.B2S, SHORTS, 0);
                lo = lo.add(v.mul(pairs[xb + 2 * j]));
                hi = hi.add(v.lanewise(VectorOperators.ASHR, 4).mul(pairs[xb + 2 * j + 1]));
            }
            ShortVector sum = lo.add(hi);
            float d = x.scales[block0 + b];
            a0 = ((FloatVector) sum.convertShape(VectorOperators.S2F, F, 0)).fma(FloatVector.fromArray(F, scratch, b * G).mul(d), a0);
            a1 = ((FloatVector) sum.convertShape(VectorOperators.S2F, F, 1)).fma(FloatVector.fromArray(F, scratch, b * G + L).mul(d), a1);
        }
        a0.intoArray(out, o);
        a1.intoArray(out, o + L);
    }

    /** A plain loop on purpose: C2 vectorizes it (as in {@link HalfRows.F16}). */
    private static void scales(MemorySegment w, long at, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = Float.float16ToFloat(w.get(Lanes.SHORT, at + 2L * i));
        }
    }

    /** Value {@code i} of block {@code b} of lane {@code lane} of a group of {@code blocks} blocks, decoded plainly: for tests. */
    static float value(MemorySegment w, long at, int blocks, int lane, int b, int i) {
        byte q = w.get(ValueLayout.JAVA_BYTE, at + 2L * blocks * G + 16L * G * b + (long) G * (i & 15) + lane);
        int nibble = i < 16 ? (q & 0xF) - 8 : q >> 4; // signed byte: the high nibble is already q − 8
        return Float.float16ToFloat(w.get(Lanes.SHORT, at + 2L * (b * G + lane))) * nibble;
    }
}
