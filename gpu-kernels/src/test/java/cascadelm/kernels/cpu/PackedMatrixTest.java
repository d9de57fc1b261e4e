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
 * The CPU layout of {@link PackedMatrix}, checked byte by byte against the layout as the classes document it
 * (panels one after the other, rows within a panel; Q4_0 in groups of G rows: the group's scales, then byte
 * columns of G bytes XOR 0x80), with
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
    void groupedQ4_0IsScalesThenByteColumnsOfTheGroupsRows() {
        if (!Lanes.QUANT_VECTORS) {
            return; // only the vector paths use the grouped layout
        }
        int g = Q4_0Groups.G;
        // One block per row; row r: scale 1.0 (f16 0x3C00) + r (in f16 ulps), byte j = 0x11 · j (both nibbles j).
        MemorySegment gguf = Arena.ofAuto().allocate(18L * g);
        for (int r = 0; r < g; r++) {
            gguf.set(SHORT, 18L * r, (short) (0x3C00 + r));
            for (int j = 0; j < 16; j++) {
                gguf.set(ValueLayout.JAVA_BYTE, 18L * r + 2 + j, (byte) (0x11 * j));
            }
        }
        PackedMatrix p = PackedMatrix.of(new Matrix(TensorType.Q4_0, gguf, g, 32));
        assertTrue(p.grouped);
        for (int r = 0; r < g; r++) {
            assertEquals((short) (0x3C00 + r), p.data.get(SHORT, 2L * r), "scale of row " + r);
            for (int j = 0; j < 16; j++) {
                // byte column j holds every row's byte j, XOR 0x80
                assertEquals((byte) ((0x11 * j) ^ 0x80), p.byteAt(2L * g + (long) g * j + r), "row " + r + " byte " + j);
            }
            float d = Float.float16ToFloat((short) (0x3C00 + r));
            for (int i = 0; i < 32; i++) {
                assertEquals(d * ((i % 16) - 8), Q4_0Groups.value(p.data, 0, 1, r, 0, i), "row " + r + " value " + i);
            }
        }
    }

    @Test
    void groupedQ4_0KeepsGroupsWholeAndPadsTheLastOne() {
        if (!Lanes.QUANT_VECTORS) {
            return;
        }
        int g = Q4_0Groups.G;
        int rows = g + 3, cols = 768, blocks = cols / 32; // panels of 256 (8 blocks); a second group of 3 rows
        Random random = new Random(5);
        MemorySegment gguf = Arena.ofAuto().allocate(18L * rows * blocks);
        byte[] bytes = new byte[(int) gguf.byteSize()];
        random.nextBytes(bytes);
        MemorySegment.copy(bytes, 0, gguf, ValueLayout.JAVA_BYTE, 0, bytes.length);
        PackedMatrix p = PackedMatrix.of(new Matrix(TensorType.Q4_0, gguf, rows, cols), 256);
        assertEquals(2, p.groups());
        assertEquals(18L * 2 * g * blocks, p.data.byteSize(), "the last group padded to G rows");
        for (int group = 0; group < 2; group++) {
            for (int lane = 0; lane < g; lane++) {
                int r = group * g + lane;
                for (int b = 0; b < blocks; b++) {
                    int panel = b / 8, k = b % 8;
                    // group after group; within a group, panel after panel of 8 blocks × G rows × 18 bytes
                    long at = 18L * g * (group * blocks + panel * 8);
                    short scale = r < rows ? gguf.get(SHORT, 18L * (r * blocks + b)) : 0;
                    assertEquals(scale, p.data.get(SHORT, at + 2L * (k * g + lane)), "scale of row " + r + " block " + b);
                    for (int j = 0; j < 16; j++) {
                        byte q = r < rows ? gguf.get(ValueLayout.JAVA_BYTE, 18L * (r * blocks + b) + 2 + j) : 0;
                        assertEquals((byte) (q ^ 0x80), p.byteAt(at + 2L * 8 * g + 16L * g * k + (long) g * j + lane),
                                "row " + r + " block " + b + " byte " + j);
                    }
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
