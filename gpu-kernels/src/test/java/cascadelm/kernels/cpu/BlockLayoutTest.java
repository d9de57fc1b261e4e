package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.TensorType;

/**
 * Blocks written byte by byte from the ggml block layouts, decoded by the backend, against values worked
 * out by hand from the layout (not from any decoder). Every row is also multiplied by a one-hot vector, so
 * the decode path's dot products see the same values.
 */
class BlockLayoutTest {
    private static final CpuBackend BACKEND = new CpuBackend(1);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    private static float[] decode(TensorType type, byte[] block) {
        Matrix m = new Matrix(type, MemorySegment.ofArray(block), 1, block.length / type.bytesPerBlock * type.blockSize);
        float[] out = new float[m.cols()];
        BACKEND.dequantizeRow(m, 0, out, 0);
        for (float v : out) {
            if (!Float.isFinite(v)) return out; // a one-hot product would meet inf · 0
        }
        float[] x = new float[m.cols()];
        float[] y = new float[1];
        for (int i = 0; i < m.cols(); i++) {
            x[i] = 1;
            BACKEND.matmul(m, x, y, 1);
            assertEquals(out[i], y[0], 0f, type + ": one-hot dot product at " + i);
            x[i] = 0;
        }
        return out;
    }

    private static void half(byte[] b, int at, int bits) {
        b[at] = (byte) bits;
        b[at + 1] = (byte) (bits >> 8);
    }

    @Test
    void q8_0IsAHalfScaleThenSignedBytes() {
        byte[] b = new byte[34];
        half(b, 0, 0x3800); // d = 0.5
        b[2] = 1;
        b[3] = -2;
        b[4] = 127;
        b[5] = -128;
        b[33] = 9;
        float[] y = decode(TensorType.Q8_0, b);
        assertEquals(0.5f, y[0]);
        assertEquals(-1f, y[1]);
        assertEquals(63.5f, y[2]);
        assertEquals(-64f, y[3]);
        assertEquals(0f, y[4], 0f);
        assertEquals(4.5f, y[31]);
    }

    @Test
    void q4_0LowNibblesAreTheFirstHalfOffsetByEight() {
        byte[] b = new byte[18];
        half(b, 0, 0x3400); // d = 0.25
        b[2] = 0x1F; // value 0: 15 − 8 = 7 → 1.75; value 16: 1 − 8 = −7 → −1.75
        b[17] = (byte) 0x80; // value 15: 0 − 8 → −2; value 31: 8 − 8 → 0
        float[] y = decode(TensorType.Q4_0, b);
        assertEquals(1.75f, y[0]);
        assertEquals(-1.75f, y[16]);
        assertEquals(-2f, y[15]);
        assertEquals(0f, y[31], 0f);
        assertEquals(-2f, y[1]); // zero bytes decode to −8 · d
    }

    @Test
    void q4_kUnpacksSixBitScalesAndMinsAndPairsSubBlocksByNibble() {
        byte[] b = new byte[144];
        half(b, 0, 0x3800); // d = 0.5
        half(b, 2, 0x3400); // dmin = 0.25
        int s = 4; // scales[12]
        b[s] = 3; // sub-block 0: sc = 3
        b[s + 4] = 2; // sub-block 0: m = 2
        b[s + 1] = 0x41; // sub-block 1: sc = 1; top bits 01 are bits 4..5 of sub-block 5's sc
        b[s + 5] = (byte) 0x84; // sub-block 1: m = 4; top bits 10 are bits 4..5 of sub-block 5's m
        b[s + 9] = 0x35; // sub-block 5: sc low nibble 5, m low nibble 3 → sc = 0x15 = 21, m = 0x23 = 35
        int qs = 16;
        b[qs] = 0x7A; // value 0 (sub-block 0) nibble 10; value 32 (sub-block 1) nibble 7
        b[qs + 64 + 3] = (byte) 0xC0; // value 131 (sub-block 4) nibble 0; value 163 (sub-block 5) nibble 12
        float[] y = decode(TensorType.Q4_K, b);
        assertEquals(14.5f, y[0]); // 0.5·3·10 − 0.25·2
        assertEquals(-0.5f, y[1]); // 0.5·3·0 − 0.25·2
        assertEquals(2.5f, y[32]); // 0.5·1·7 − 0.25·4
        assertEquals(-1f, y[33]);
        assertEquals(0f, y[131], 0f); // sub-block 4 has sc = m = 0
        assertEquals(117.25f, y[163]); // 0.5·21·12 − 0.25·35
        assertEquals(-8.75f, y[160]);
        assertEquals(0f, y[255], 0f); // sub-block 7: scales[3], scales[7], scales[11] all zero
    }

    @Test
    void q6_kCombinesLowNibblesWithTwoHighBitsPerValue() {
        byte[] b = new byte[210];
        half(b, 208, 0x3800); // d = 0.5
        int sc = 192;
        b[sc] = 2;
        b[sc + 2] = -3;
        b[sc + 4] = 4;
        b[sc + 6] = 1;
        b[sc + 9] = 5; // second half, values 144..159
        b[0] = 0x21; // ql[0]: value 0 low 1, value 64 low 2
        b[32] = 0x43; // ql[32]: value 32 low 3, value 96 low 4
        b[128] = (byte) 0xE4; // qh[0] = 11 10 01 00: high bits 0, 1, 2, 3 for values 0, 32, 64, 96
        b[64 + 17] = 0x0F; // second half ql[17]: value 145 low 15
        b[128 + 32 + 17] = 0x03; // second half qh[17]: value 145 high 3
        float[] y = decode(TensorType.Q6_K, b);
        assertEquals(-31f, y[0]); // 0.5·2·(1 − 32)
        assertEquals(19.5f, y[32]); // 0.5·(−3)·(19 − 32)
        assertEquals(4f, y[64]); // 0.5·4·(34 − 32)
        assertEquals(10f, y[96]); // 0.5·1·(52 − 32)
        assertEquals(-32f, y[1]); // 0.5·2·(0 − 32)
        assertEquals(0f, y[16], 0f); // scale 1 is zero
        assertEquals(77.5f, y[145]); // 0.5·5·(63 − 32)
        assertEquals(-80f, y[144]); // 0.5·5·(0 − 32)
    }

    @Test
    void f16DecodesNormalsSubnormalsAndInfinity() {
        byte[] b = new byte[64];
        for (int i = 0; i < 32; i++) half(b, 2 * i, 0x3800); // 0.5
        half(b, 0, 0x3C00);
        half(b, 2, 0xC000);
        half(b, 6, 0x0001); // smallest subnormal 2^-24
        half(b, 8, 0x7BFF); // largest finite
        half(b, 10, 0x3555); // (1 + 341/1024) · 2^-2
        half(b, 40, 0x7C00);
        half(b, 42, 0x8000); // −0
        float[] y = decode(TensorType.F16, b);
        assertEquals(1f, y[0]);
        assertEquals(-2f, y[1]);
        assertEquals(0.5f, y[2]);
        assertEquals(0x1p-24f, y[3]);
        assertEquals(65504f, y[4]);
        assertEquals(0.333251953125f, y[5]);
        assertEquals(Float.POSITIVE_INFINITY, y[20]);
        assertEquals(-0f, y[21]);
    }

    @Test
    void bf16IsTheHighHalfOfAFloat() {
        byte[] b = new byte[40];
        half(b, 0, 0x3F80);
        half(b, 2, 0xC040);
        half(b, 4, 0x4049);
        half(b, 38, 0x3F00);
        float[] y = decode(TensorType.BF16, b);
        assertEquals(1f, y[0]);
        assertEquals(-3f, y[1]);
        assertEquals(3.140625f, y[2]);
        assertEquals(0f, y[3], 0f);
        assertEquals(0.5f, y[19]);
    }
}
