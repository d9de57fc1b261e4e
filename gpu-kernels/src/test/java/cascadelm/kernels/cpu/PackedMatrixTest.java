package cascadelm.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import org.junit.jupiter.api.Test;

import cascadelm.kernels.Matrix;
import cascadelm.kernels.Quantizer;
import cascadelm.kernels.TensorType;

/**
 * The CPU layout of {@link PackedMatrix}, checked byte by byte against the layout as the class documents it
 * (panels one after the other, rows within a panel; packed Q4_0 rows = scales, then quants XOR 0x88), with
 * the expected bytes written from that description, not computed by the packing code.
 */
class PackedMatrixTest {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void panelsHoldEachRowsColumnsOneAfterTheOther() {
        int rows = 3, cols = 640; // panels of 256: two full ones and one of 128 columns
        MemorySegment gguf = Arena.ofAuto().allocate(2L * rows * cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                gguf.set(SHORT, 2L * (r * cols + c), (short) (r * 1000 + c)); // any distinct 16-bit codes
            }
        }
        PackedMatrix p = PackedMatrix.of(new Matrix(TensorType.F16, gguf, rows, cols), 256);
        assertEquals(3, p.panels());
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int panel = c / 256, width = panel < 2 ? 256 : 128;
                long at = 2L * (panel * 256 * rows + r * width + c % 256);
                assertEquals((short) (r * 1000 + c), p.data.get(SHORT, at), "row " + r + " column " + c);
            }
        }
    }

    @Test
    void packedQ4_0RowIsScalesThenSignedNibbles() {
        // One block: scale 1.0 (f16 0x3C00); byte j = 0x11 · j, so both nibbles of byte j are j, value j and
        // value 16 + j are both (j − 8) · 1.0.
        MemorySegment gguf = Arena.ofAuto().allocate(18);
        gguf.set(SHORT, 0, (short) 0x3C00);
        for (int j = 0; j < 16; j++) {
            gguf.set(ValueLayout.JAVA_BYTE, 2 + j, (byte) (0x11 * j));
        }
        PackedMatrix p = PackedMatrix.of(new Matrix(TensorType.Q4_0, gguf, 1, 32));
        if (!Lanes.QUANT_VECTORS) {
            return; // only the vector paths use the packed layout
        }
        byte[] expected = {0x00, 0x3C, (byte) 0x88, (byte) 0x99, (byte) 0xAA, (byte) 0xBB, (byte) 0xCC, (byte) 0xDD, (byte) 0xEE,
                (byte) 0xFF, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
        byte[] actual = new byte[18];
        for (int i = 0; i < 18; i++) {
            actual[i] = p.byteAt(i);
        }
        assertArrayEquals(expected, actual);
        float[] out = new float[32];
        p.dequantize(0, 0, 32, out, 0);
        for (int i = 0; i < 32; i++) {
            assertEquals((i % 16) - 8, out[i], "value " + i);
            assertEquals((i % 16) - 8, Q4_0PackedRows.value(p.data, 0, 1, 0, i), "value " + i);
        }
    }

    @Test
    void packedQ4_0PanelsKeepEveryBlocksScaleAndQuants() {
        if (!Lanes.QUANT_VECTORS) {
            return;
        }
        int rows = 2, cols = 768, blocks = cols / 32; // panels of 256: 8 blocks each
        Random random = new Random(5);
        MemorySegment gguf = Arena.ofAuto().allocate(18L * rows * blocks);
        byte[] bytes = new byte[(int) gguf.byteSize()];
        random.nextBytes(bytes);
        MemorySegment.copy(bytes, 0, gguf, ValueLayout.JAVA_BYTE, 0, bytes.length);
        PackedMatrix p = PackedMatrix.of(new Matrix(TensorType.Q4_0, gguf, rows, cols), 256);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < blocks; b++) {
                long src = 18L * (r * blocks + b);
                int panel = b / 8, k = b % 8;
                long segment = 18L * 8 * (panel * rows + r);
                assertEquals(gguf.get(SHORT, src), p.data.get(SHORT, segment + 2L * k), "scale of row " + r + " block " + b);
                for (int j = 0; j < 16; j++) {
                    byte q = gguf.get(ValueLayout.JAVA_BYTE, src + 2 + j);
                    assertEquals((byte) (q ^ 0x88), p.byteAt(segment + 16 + 16L * k + j), "row " + r + " block " + b + " byte " + j);
                }
            }
        }
    }

    @Test
    void oneRowMatrixOfAPanelIsUsedInPlace() {
        Matrix w = Quantizer.matrix(TensorType.Q8_0, new float[2048], 1, 2048);
        assertSame(w.data(), PackedMatrix.of(w).data);
    }

    @Test
    void memoryReusedByAnotherMatrixIsPackedAfresh() {
        // A closed arena's memory is often handed out again at the same address: the product of the new
        // matrix there must use its own weights, not the packed copy of the old one.
        int rows = 8, cols = 4096; // two panels: always packed
        float[] x = new float[cols];
        java.util.Arrays.fill(x, 1f);
        try (CpuBackend backend = new CpuBackend(1)) {
            for (int round = 0; round < 4; round++) {
                float value = round + 1;
                float[] values = new float[rows * cols];
                java.util.Arrays.fill(values, value);
                try (Arena arena = Arena.ofConfined()) {
                    Matrix w = Quantizer.matrix(arena, TensorType.F16, values, rows, cols);
                    float[] out = new float[rows];
                    backend.matmul(w, x, out, 1);
                    for (float o : out) {
                        assertTrue(Math.abs(o - value * cols) <= 1e-3f * value * cols, "round " + round + ": " + o + " for " + value * cols);
                    }
                }
            }
        }
    }
}
